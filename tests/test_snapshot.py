"""A record describes what ran (issue 18): the user.conf and val_map a run read are frozen into its run directory,
and `bench submission` files the user.conf the run used, not the file as a later `bench tune` rewrote it."""

from __future__ import annotations

import shutil

import pytest

from bench.cache import file_sha256
from bench.mlperf import submission_tree
from tests.conftest import TEST_DATA, only_run

CONF = "resnet50.Offline.target_qps = 123\n"


def test_user_conf_and_val_map_are_snapshotted_and_submitted_as_run(bench_cli, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(TEST_DATA / "imagenet", data)
    conf = tmp_path / "user.conf"
    conf.write_text(CONF)
    out = tmp_path / "results"
    result = bench_cli("run", "--backend", "null", "--dataset", data, "--count", "8", "--duration", "1",
                       "--user-conf", conf, "--output", out)
    assert result.exit_code == 0, result.output
    record = only_run(out)
    run_dir = next(out.iterdir())
    assert (run_dir / "user.conf").read_text() == CONF
    assert record["snapshot"]["user_conf"]["sha256"] == file_sha256(conf)
    assert record["snapshot"]["val_map"] == {"path": str(data / "val_map.txt"), "sha256": file_sha256(data / "val_map.txt")}
    conf.write_text("resnet50.Offline.target_qps = 999\n")  # as `bench tune` rewrites it after the run
    assert submission_tree.user_conf({**record, "run_dir": str(run_dir)}) == CONF


def test_closed_division_refuses_an_unknown_onnx_file(bench_cli, tmp_path):
    from tests.test_hostile import _onnx

    pytest.importorskip("onnxruntime")
    model = _onnx(tmp_path / "mine.onnx", ["N", 3, 224, 224])
    out = tmp_path / "results"
    result = bench_cli("run", "--backend", "onnxruntime", "--onnx", model, "--dataset", TEST_DATA / "imagenet",
                       "--count", "8", "--duration", "1", "--output", out)
    assert result.exit_code == 0, result.output
    assert only_run(out)["config"]["model"] == "resnet50"  # the --model default; the file is not ResNet-50
    result = bench_cli("submission", "--results", out, "--out", tmp_path / "sub", "--submitter", "Acme",
                       "--division", "closed")
    assert result.exit_code == 2 and "closed division" in result.output, result.output


def test_reports_name_an_onnx_run_by_its_file(bench_cli, tmp_path):
    from tests.test_hostile import _onnx

    pytest.importorskip("onnxruntime")
    model = _onnx(tmp_path / "mine.onnx", ["N", 3, 224, 224], classes=10)
    out = tmp_path / "results"
    assert bench_cli("run", "--backend", "onnxruntime", "--onnx", model, "--count", "8", "--duration", "1",
                     "--output", out).exit_code == 0
    assert bench_cli("report", out, "--out", tmp_path / "report").exit_code == 0
    csv = (tmp_path / "report" / "results.csv").read_text()
    assert ",mine.onnx," in csv and ",resnet50," not in csv
