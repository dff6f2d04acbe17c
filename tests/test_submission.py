"""`bench submission`: the tree matches the layout the MLCommons submission checker reads, for the round the
runs' LoadGen seeds belong to (v6.x: measurements and compliance under results/, src/); another round, a suite
without ResNet-50, and a performance and accuracy run of different configurations are refused.

The official checker is not on PyPI and its code is not ours to vendor: benchmarks/mlperf_checker.py runs it.
"""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from bench.mlperf import rounds, submission
from bench.record import accuracy
from tests.conftest import FAST_RUN, TEST_DATA, only_run

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


def test_tree_for_the_runs_round_has_every_file_the_checker_reads(bench_cli, results, tmp_path):
    out = tmp_path / "sub"
    result = bench_cli("submission", "--results", results, "--out", out, "--submitter", "Acme", "--division", "open")
    assert result.exit_code == 0, result.output
    record = json.loads(next(results.glob("*/result.json")).read_text())
    ran = rounds.round_of(rounds.seeds_of(record["performance"]))
    assert ran is not None and "round" in result.output and ran.name in result.output
    root = out / "open" / "Acme"
    # One model, one folder: resnet18 is not filed as resnet50, and model_mapping.json says what it stands for.
    res = root / "results" / "box_torch" / "resnet18" / "Offline"
    assert not (root / "results" / "box_torch" / "resnet50").exists()
    assert json.loads((root / "model_mapping.json").read_text()) == {"resnet18": "resnet"}
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
    if ran.split:  # v5.x: measurements/<system>/<model>/<Scenario>/<system>_<implementation>_<Scenario>.json
        meas = root / "measurements" / "box_torch" / "resnet18" / "Offline"
        (per_run,) = list(meas.glob("box_torch_*_Offline.json"))
        comp = root / "compliance" / "box_torch" / "resnet18" / "Offline" / "TEST01"
    else:  # v6.x: all of it in the result's own folder
        meas, per_run, comp = res, res / "measurements.json", res / "TEST01"
        assert not (root / "measurements").exists() and not (root / "compliance").exists()
    assert set(json.loads(per_run.read_text())) == MEASUREMENT_KEYS
    assert (meas / "README.md").read_text().count("bench run") >= 2 and (meas / "user.conf").is_file()
    _reproduce_lines_give_the_runs_config(meas, results)
    # TEST01 as the official run_verification.py leaves it.
    for name in ("verify_accuracy.txt", "verify_performance.txt", "accuracy/mlperf_log_accuracy.json",
                 "performance/run_1/mlperf_log_detail.txt"):
        assert (comp / name).is_file(), name
    # systems/<system>.json: every field the checker requires; what no probe knows is listed to fill in.
    desc = json.loads((root / "systems" / "box_torch.json").read_text())
    assert set(submission.SYSTEM_FIELDS) <= set(desc)
    assert desc["division"] == "open" and desc["submitter"] == "Acme" and desc["system_name"] == "box"
    assert desc["host_processor_model_name"] and desc["framework"].startswith("torch")
    assert desc["system_type"] == "edge"
    # Only Offline ran: the edge suite's other two scenarios are listed and the tree is marked incomplete.
    fill_in = (out / "FILL_IN.md").read_text()
    assert "status" in fill_in and "submission_checker" in fill_in and "INCOMPLETE" in fill_in
    for scenario in ("SingleStream", "MultiStream"):
        assert f"box_torch/resnet18/{scenario}: no run" in fill_in
    assert "INCOMPLETE" in result.output
    assert (root / ran.code_dir / "resnet18" / "README.md").is_file()


def test_a_round_whose_seeds_differ_is_refused(bench_cli, results, tmp_path):
    record = json.loads(next(results.glob("*/result.json")).read_text())
    ran = rounds.round_of(rounds.seeds_of(record["performance"]))
    other = next(v for v in rounds.VERSIONS if v != ran.name)
    result = bench_cli("submission", "--results", results, "--out", tmp_path / "sub", "--submitter", "Acme",
                       "--division", "open", "--version", other)
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert other in text and ran.name in text and "install" in text
    assert not (tmp_path / "sub").exists()


def test_a_suite_without_resnet50_is_refused(bench_cli, results, tmp_path):
    result = bench_cli("submission", "--results", results, "--out", tmp_path / "sub", "--submitter", "Acme",
                       "--division", "open", "--system-type", "datacenter")
    assert result.exit_code == 2
    assert "no ResNet-50 in the datacenter suite" in " ".join(result.output.split())


def _reproduce_lines_give_the_runs_config(meas, results):
    """The README's commands are bench/config/run_config.py's to_command(): parsed, they give the run's own config back."""
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


def test_performance_and_accuracy_runs_of_different_configurations_are_refused(bench_cli, tmp_path):
    results = tmp_path / "results"
    common = ["--backend", "null", "--scenario", "offline", "--count", "16", "--duration", "1", "--system-name", "box",
              "--output", results]
    assert bench_cli("run", *common, "--mode", "performance").exit_code == 0
    perf = only_run(results)["run_id"]
    assert bench_cli("run", *common, "--mode", "accuracy", "--preprocessing", "mlperf").exit_code == 0
    acc = next(p.name for p in results.iterdir() if p.name != perf)
    result = bench_cli("submission", "--results", results, "--out", tmp_path / "sub", "--submitter", "Acme",
                       "--division", "open")
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert perf in text and acc in text and "preprocessing" in text


def test_system_ids_tell_two_configurations_apart():
    def record(batch, scenario="offline", backend="onnxruntime"):
        return {"config": {"backend": backend, "precision": "fp32", "scenario": scenario, "model": "resnet50",
                           "batch_size": batch, "threads": 2, "device": "cpu", "extra": {}},
                "system": {"system_name": "box"}}

    runs = [record(8), record(32), record(1, "single-stream"), record(4, "single-stream", "torch")]
    assert submission.system_ids(runs, None) == ["box_onnxruntime_b8", "box_onnxruntime_b32", "box_onnxruntime",
                                                 "box_torch"]
    assert submission.system_ids(runs, "my_box") == ["my_box"] * 4
    with pytest.raises(submission.UsageError, match="--system .my box. cannot name a folder.*my_box"):
        submission.system_ids(runs, "my box")  # refused, naming the fix, never silently renamed


def test_rounds_are_read_from_seeds():
    for version, known in rounds.ROUNDS.items():
        assert rounds.choose(None, {known.seeds}) is known
        assert rounds.choose(version, {known.seeds}) is known
    with pytest.raises(submission.UsageError, match="v5.1.*v6.1.*install"):
        rounds.choose("v5.1", {rounds.ROUNDS["v6.1"].seeds})
    with pytest.raises(submission.UsageError, match="cannot tell"):
        rounds.choose(None, {(0, 0, 0)})
    assert "datacenter" in rounds.ROUNDS["v5.0"].resnet and "datacenter" not in rounds.ROUNDS["v6.1"].resnet


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


def test_an_mlperf_profile_run_has_the_seeds_of_the_round_bench_chooses(bench_cli, tmp_path):
    """The seeds come from LoadGen's mlperf.conf whatever the duration, so a 1 s run shows them: they must be the
    seeds the official checker's table holds for the round `bench submission` writes."""
    from bench.record import loadgen_log

    results = tmp_path / "results"
    result = bench_cli("run", "--backend", "null", "--scenario", "single-stream", "--profile", "mlperf",
                       "--duration", "1", "--count", "16", "--system-name", "box", "--output", results)
    assert result.exit_code in (0, 3), result.output  # INVALID (too short) is fine: the seeds are what matters
    record = only_run(results)
    detail = loadgen_log.read_detail(results / record["run_id"] / "loadgen" / "performance" / "mlperf_log_detail.txt")
    seeds = tuple(detail[f"effective_{k}_rng_seed"] for k in rounds.SEED_KEYS)
    out = tmp_path / "sub"
    result = bench_cli("submission", "--results", results, "--out", out, "--submitter", "Acme", "--division", "open")
    assert result.exit_code == 0, result.output
    chosen = re.search(r"MLPerf Inference (v[\d.]+)", (out / "FILL_IN.md").read_text()).group(1)
    assert rounds.ROUNDS[chosen].seeds == seeds


def test_runs_fed_from_device_memory_are_refused_quoting_the_rule(bench_cli, results, tmp_path):
    """--input-location device breaks MLPerf's rule on where LoadGen's samples live (any division): refused, naming
    the run, never dropped quietly. The record is a real run's, its config marked as a device run would be."""
    import shutil

    tree = tmp_path / "results"
    shutil.copytree(results, tree)
    marked = min(tree.rglob("result.json"))
    record = json.loads(marked.read_text())
    record["config"]["extra"]["input_location"] = "device"
    marked.write_text(json.dumps(record))
    result = bench_cli("submission", "--results", tree, "--out", tmp_path / "sub", "--submitter", "Acme",
                       "--division", "open")
    assert result.exit_code == 2, result.output
    assert marked.parent.name in result.output and "--input-location device" in result.output
    assert "must be stored in the DRAM" in result.output and not (tmp_path / "sub" / "open").exists()
