"""`bench submission`: the tree for ResNet-50 matches the layout the MLCommons submission checker reads
(v5.x: results/, measurements/, compliance/, systems/, code/; v6.0: measurements and compliance under results/).

The official checker is not on PyPI and its code is not ours to vendor: README "Submission" says how to run it.
"""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from bench import accuracy, submission
from tests.conftest import FAST_RUN, TEST_DATA

IMAGES = TEST_DATA / "imagenet"  # bundled, so the suite runs from a fresh clone
# The checker's pattern for ResNet-50's accuracy.txt (ACC_PATTERN["acc"]) and its `hash=` line.
ACC_PATTERN = re.compile(r"^(?:\{\"accuracy|accuracy)[\": ]*=?\s*([\d\.]+).*")
MEASUREMENT_KEYS = {"input_data_types", "retraining", "starting_weights_filename", "weight_data_types",
                    "weight_transformations"}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """One audited run: performance, accuracy on real images and TEST01, like a submitter's results tree."""
    from click.testing import CliRunner

    from bench.cli import cli

    out = tmp_path_factory.mktemp("results")
    dataset = ["--dataset", str(IMAGES)] if (IMAGES / "val_map.txt").exists() else []
    result = CliRunner().invoke(cli, ["audit", "TEST01", "--backend", "torch", *FAST_RUN, *dataset,
                                      "--system-name", "box", "--output", str(out)], catch_exceptions=False)
    assert result.exit_code in (0, 3), result.output
    return out


def test_v5_tree_has_every_file_the_checker_reads(bench_cli, results, tmp_path):
    out = tmp_path / "sub"
    result = bench_cli("submission", "--results", results, "--out", out, "--submitter", "Acme", "--division", "open")
    assert result.exit_code == 0, result.output
    root = out / "open" / "Acme"
    res = root / "results" / "box_torch" / "resnet50" / "Offline"
    for name in ("performance/run_1/mlperf_log_summary.txt", "performance/run_1/mlperf_log_detail.txt",
                 "accuracy/mlperf_log_accuracy.json", "accuracy/accuracy.txt", "accuracy/mlperf_log_detail.txt",
                 "accuracy/mlperf_log_summary.txt", "user.conf"):
        assert (res / name).is_file(), name
    # accuracy.txt: accuracy-imagenet.py's words, then the accuracy log's sha256.
    first = (res / "accuracy" / "accuracy.txt").read_text().splitlines()[0]
    assert ACC_PATTERN.match(first)
    txt = accuracy.read_accuracy_txt(res / "accuracy" / "accuracy.txt")
    log_hash = hashlib.sha256((res / "accuracy" / "mlperf_log_accuracy.json").read_bytes()).hexdigest()
    assert txt["count"] == 16 and txt["log_sha256"] == log_hash
    assert float(ACC_PATTERN.match(first)[1]) == txt["accuracy_percent"]
    # measurements/<system>/resnet50/<Scenario>/: <system>_<implementation>_<Scenario>.json, README.md, user.conf.
    meas = root / "measurements" / "box_torch" / "resnet50" / "Offline"
    (per_run,) = list(meas.glob("box_torch_*_Offline.json"))
    assert set(json.loads(per_run.read_text())) == MEASUREMENT_KEYS
    assert (meas / "README.md").read_text().count("bench run") >= 2 and (meas / "user.conf").is_file()
    _reproduce_lines_give_the_runs_config(meas, results)
    # compliance/<system>/resnet50/<Scenario>/TEST01/ as the official run_verification.py leaves it.
    comp = root / "compliance" / "box_torch" / "resnet50" / "Offline" / "TEST01"
    for name in ("verify_accuracy.txt", "verify_performance.txt", "accuracy/mlperf_log_accuracy.json",
                 "performance/run_1/mlperf_log_detail.txt"):
        assert (comp / name).is_file(), name
    # systems/<system>.json: every field the checker requires; what no probe knows is listed to fill in.
    desc = json.loads((root / "systems" / "box_torch.json").read_text())
    assert set(submission.SYSTEM_FIELDS) <= set(desc)
    assert desc["division"] == "open" and desc["submitter"] == "Acme" and desc["system_name"] == "box"
    assert desc["host_processor_model_name"] and desc["framework"].startswith("torch")
    fill_in = (out / "FILL_IN.md").read_text()
    assert "status" in fill_in and "submission_checker" in fill_in
    assert (root / "code" / "resnet50" / "README.md").is_file()


def _reproduce_lines_give_the_runs_config(meas, results):
    """The README's commands are bench/options.py's to_command(): parsed, they give the run's own config back."""
    import os

    from tests.test_options import parse

    readme = (meas / "README.md").read_text()
    performance, accuracy = [line for line in readme.splitlines() if line.startswith("bench run")]
    run_id = re.search(r"- performance: (\S+):", readme).group(1)
    config = json.loads((results / run_id / "result.json").read_text())["config"]
    here = os.getcwd()
    os.chdir(meas)  # --user-conf user.conf: the folder's own
    try:
        for line, mode, conf in ((performance, "performance", "user.conf"), (accuracy, "accuracy", None)):
            want = {**config, "mode": mode, "user_conf": conf, "output": "results"}
            assert parse(line).to_record() == want, line
    finally:
        os.chdir(here)


def test_v6_layout_moves_measurements_and_compliance_under_results(bench_cli, results, tmp_path):
    out = tmp_path / "sub"
    result = bench_cli("submission", "--results", results, "--out", out, "--submitter", "Acme", "--division", "open",
                       "--version", "v6.0")
    assert result.exit_code == 0, result.output
    res = out / "open" / "Acme" / "results" / "box_torch" / "resnet50" / "Offline"
    assert set(json.loads((res / "measurements.json").read_text())) == MEASUREMENT_KEYS
    assert (res / "TEST01" / "verify_accuracy.txt").is_file() and (res / "README.md").is_file()
    assert not (out / "open" / "Acme" / "measurements").exists()
    assert (out / "open" / "Acme" / "src" / "resnet50" / "README.md").is_file()


def test_closed_division_refuses_synthetic_or_other_models(bench_cli, results, tmp_path):
    result = bench_cli("submission", "--results", results, "--out", tmp_path / "sub", "--submitter", "Acme",
                       "--division", "closed")
    assert result.exit_code == 2
    assert "closed division" in result.output and "resnet18" in result.output


def test_empty_results_tree_is_a_clear_error(bench_cli, tmp_path):
    (tmp_path / "empty").mkdir()
    result = bench_cli("submission", "--results", tmp_path / "empty", "--out", tmp_path / "sub",
                       "--submitter", "Acme", "--division", "open")
    assert result.exit_code == 2 and "no complete runs" in result.output
