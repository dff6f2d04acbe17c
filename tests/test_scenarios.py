"""Each scenario owns what it means: the headline is the field MLPerf's submission checker reads (checked against
the detail log parsed here independently), MultiStream runs VALID, tune and views ask the scenario, and no
module outside scenarios/ names one."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

import scenarios
from bench.record import summary
from tests.conftest import ROOT, only_run

# submission_checker/constants.py (mlcommons/inference): the field read per scenario, and its unit as logged.
CHECKER_FIELD = {"offline": ("result_samples_per_second", 1.0), "server": ("result_completed_samples_per_sec", 1.0),
                 "single-stream": ("early_stopping_latency_ss", 1e-6), "multi-stream": ("early_stopping_latency_ms", 1e-6)}
# The null backend answers at once: LoadGen's own cost is all that is timed, so even 662 MultiStream queries are quick.
NULL = ["--backend", "null", "--model", "resnet18", "--count", "64", "--duration", "0.5"]


def detail_values(path: Path) -> dict:
    """The detail log read the way the checker reads it (json per ':::MLLOG ' line), not through bench's reader."""
    values = {}
    for line in path.read_text().splitlines():
        match = re.match(r":::MLLOG (\{.*\})$", line)
        if match:
            entry = json.loads(match.group(1))
            values[entry["key"]] = entry["value"]
    return values


@pytest.mark.parametrize("scenario", sorted(CHECKER_FIELD))
def test_headline_is_the_checkers_field(bench_cli, results_dir, tmp_path, scenario):
    extra = ["--target-qps", "200", "--latency-bound-ms", "1000"] if scenario == "server" else []
    result = bench_cli("run", *NULL, "--scenario", scenario, "--output", results_dir, *extra)
    assert result.exit_code == 0, result.output
    record = only_run(results_dir)
    perf = record["performance"]
    detail = detail_values(results_dir / record["run_id"] / "loadgen" / "performance" / "mlperf_log_detail.txt")
    key, scale = CHECKER_FIELD[scenario]
    assert perf["result_metric"]["key"] == key
    assert perf["valid"], perf["invalid_reasons"]
    assert perf["result_metric"]["value"] == pytest.approx(detail[key] * scale)
    assert perf["result_metric"]["unit"] == ("ms" if scale != 1 else "samples/s")
    assert perf["duration_s"] and perf["duration_s"] > 0
    # The summary names the metric with its unit and direction, and shows no figure twice.
    console = Console(record=True, width=200)
    summary.print_run(record, console)
    text = console.export_text()
    unit = perf["result_metric"]["unit"]
    assert re.search(rf"{re.escape(perf['result_metric']['name'])} \(MLPerf's metric\)[ │]+[0-9.,]+ {unit} "
                     rf"\((higher|lower) is better\)", text), text
    assert len(re.findall(r"^.*samples/s.*$", text, re.M)) == len({f["name"] for f in perf["secondary"]
                                                                  if f["unit"] == "samples/s"}) + 1, text
    if scenario == "server":  # scheduled beside completed, never instead of it
        assert perf["secondary"][0]["key"] == "result_scheduled_samples_per_sec"
        assert perf["secondary"][0]["value"] == pytest.approx(detail["result_scheduled_samples_per_sec"])


def test_multistream_issues_8_samples_per_query_and_is_valid(bench_cli, results_dir):
    result = bench_cli("run", *NULL, "--scenario", "multi-stream", "--output", results_dir)
    assert result.exit_code == 0, result.output
    record = only_run(results_dir)
    perf = record["performance"]
    assert perf["valid"], perf["invalid_reasons"]
    assert perf["samples_per_query"] == 8 and perf["samples"] == 8 * perf["queries"] >= 8 * 662
    assert record["scenario"] == {"name": "multi-stream", "loadgen_name": "MultiStream", "batch_size": 8,
                                  "intent": "latency", "pads_partial_batches": False}
    assert perf["result_metric"]["value"] >= perf["latency_ms"]["p99"] * 0.999  # the estimate bounds p99


def test_multistream_tune_writes_its_target_latency(bench_cli, tmp_path):
    out = tmp_path / "tune"
    result = bench_cli("tune", *NULL, "--scenario", "multi-stream", "--trial-seconds", "0.5", "--fixed", "--output",
                       out)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "tune.json").read_text())
    assert summary["setting"] == "target_latency" and summary["valid"] is True
    assert re.search(r"^resnet18\.MultiStream\.target_latency = [0-9.e-]+$", (out / "user.conf").read_text(), re.M)


def test_every_scenario_declares_what_the_rest_asks():
    for name, cls in scenarios.SCENARIOS.items():
        s = cls()
        assert s.name == name and s.loadgen_scenario is not None and s.submission_dir == s.loadgen_name
        assert s.metric.key and s.metric.unit in ("samples/s", "ms") and s.intent in ("latency", "throughput")
        assert s.tune.conf_key in ("target_qps", "target_latency") and s.suites and s.advice
    assert scenarios.suite("edge") == ["Offline", "SingleStream", "MultiStream"]
    assert scenarios.suite("datacenter") == ["Offline", "Server"]


def test_schema_1_records_are_read_and_named_as_such():
    old = {"schema": 1, "performance": {"result_metric": {"name": "p90_latency_ms", "value": 331.0}}}
    metric = scenarios.headline(old)
    assert metric["value"] == 331.0 and metric["unit"] == "ms" and "schema 1" in metric["name"]
    assert scenarios.headline({"schema": 1, "performance": None}) is None


def test_no_module_outside_scenarios_names_a_scenario():
    """Adding a scenario is one module and one registry line: nothing else may branch on a scenario's name
    (the command line's choices and defaults excepted)."""
    names = [n for s in scenarios.SCENARIOS.values() for n in (s.name, s.loadgen_name)]
    pattern = "|".join(re.escape(f'"{n}"') for n in names)
    found = subprocess.run(["git", "grep", "-n", "-E", pattern, "--", "bench", "backends", ":!bench/cli.py",
                            ":!bench/config/run_config.py", ":!bench/config/run_config.py", ":!bench/commands"], cwd=ROOT,
                           capture_output=True, text=True)
    assert found.returncode in (0, 1), found.stderr
    assert found.stdout == "", "scenario names outside scenarios/:\n" + found.stdout


def test_padding_is_computed_but_never_answered():
    """A GPU Offline run pads its last batch to the shape already warmed: every query answered once, with the
    prediction of its own sample."""
    import numpy as np

    from bench.run.sut import Responder
    from scenarios.offline import Offline

    class Echo:  # class id = the sample's own value: shows which sample each answer came from
        name, concurrency = "echo", 1

        def predict(self, batch):
            return batch[:, 0].astype(np.int64)

    class Store:
        def batch(self, indices, reuse=False):
            return np.asarray(indices, dtype=np.float32).reshape(-1, 1)

    answered = []
    responder = Responder(Echo(), Store())
    import bench.run.sut as sut

    real = sut.lg.QuerySamplesComplete
    sut.lg.QuerySamplesComplete = lambda responses: answered.extend(responses)
    try:
        cfg = type("Cfg", (), {"batch_size": 4, "device": "cuda:0"})()
        offline = Offline()
        issue, _ = offline.start(responder, cfg)
        issue(list(range(100, 106)), [10, 11, 12, 13, 14, 15])  # 6 samples: a full batch and a partial one
        offline.close()
    finally:
        sut.lg.QuerySamplesComplete = real
    assert sorted(r.id for r in answered) == list(range(100, 106))
    assert responder.completed == 6
