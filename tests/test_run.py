"""The spine end to end: every backend x scenario through real LoadGen, and what the record says."""

from __future__ import annotations

import json

import pytest

from bench import backends
from tests.conftest import FAST_RUN, only_run

# Server's and MultiStream's quick profiles wait for 460 and 662 queries (early stopping at p99); a test needs
# far fewer (such a run may be INVALID: this test checks the record, not the verdict).
SHORT_CONF = {"server": "*.Server.min_query_count = 24\n", "multi-stream": "*.MultiStream.min_query_count = 8\n"}


def _run(bench_cli, results_dir, tmp_path, backend, scenario, *extra):
    args = ["run", "--backend", backend, "--scenario", scenario, "--output", results_dir, *FAST_RUN, *extra]
    if scenario in SHORT_CONF:
        conf = tmp_path / "user.conf"
        conf.write_text(SHORT_CONF[scenario])
        args += ["--user-conf", conf]
    if scenario == "server":
        args += ["--target-qps", "20", "--latency-bound-ms", "5000"]
    return bench_cli(*args)


def _cpu_backends() -> list:
    """Every registered backend (a new one is tested by its registry line alone), skipped where it cannot run on
    this CPU: not installed, no cpu in its declaration, or fp32 needing something this machine lacks."""
    params = []
    for name in backends.names(include_hidden=True):
        cls = backends.backend_class(name)
        why = "" if "fp32" in cls.precisions_here("cpu") else f"backend {name} declares no fp32 on the CPU"
        why = why or (f"backend {name} runs on a server: tests/test_remote.py runs it against bench serve"
                      if cls.over_network else "")
        why = why or (None if backends.probe(name).available else f"backend {name} is not available here")
        params.append(pytest.param(name, marks=pytest.mark.skip(reason=why)) if why else name)
    return params


@pytest.mark.parametrize("scenario", ["offline", "server", "single-stream", "multi-stream"])
@pytest.mark.parametrize("backend", _cpu_backends())
def test_backend_scenario_writes_complete_record(bench_cli, results_dir, tmp_path, backend, scenario):
    result = _run(bench_cli, results_dir, tmp_path, backend, scenario)
    assert result.exit_code == 0, result.output
    record = only_run(results_dir)
    assert record["schema"] == 2 and record["status"] == "complete"
    assert record["config"]["backend"] == backend and record["config"]["scenario"] == scenario
    assert record["config"]["synthetic_weights"] and record["config"]["synthetic_data"]
    # OpenVINO records its own spelling of the device (CPU).
    assert record["backend"]["name"] == backend and record["backend"]["device"].lower() == "cpu"
    if backends.backend_class(backend).model_format != "none":  # a backend that runs a model runs it on --threads
        assert record["backend"]["threads"] == 1
    perf = record["performance"]
    assert perf["loadgen_validity"] in ("VALID", "INVALID")
    assert perf["samples"] > 0 and perf["samples_per_second"] > 0
    lat = perf["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    metric = perf["result_metric"]
    assert perf["duration_s"] > 0
    if metric["value"] is None:  # a short latency run: too few queries for LoadGen's estimate, which logs 0
        assert perf["early_stopping_met"] is False and metric["logged"] == 0 and not perf["valid"]
    else:
        assert metric["value"] > 0
    # The field MLPerf's submission checker reads for each scenario (its constants.py), nothing else.
    assert metric["key"] == {"offline": "result_samples_per_second", "server": "result_completed_samples_per_sec",
                             "single-stream": "early_stopping_latency_ss",
                             "multi-stream": "early_stopping_latency_ms"}[scenario]
    if metric["unit"] == "ms" and metric["value"] is not None:  # an early-stopping estimate is never below the percentile it estimates
        assert metric["value"] >= lat["p90" if scenario == "single-stream" else "p99"] * 0.999
    assert record["scenario"]["batch_size"] == {"single-stream": 1, "multi-stream": 8}.get(scenario, 4)
    assert record["power"]["available"] in (True, False) and (record["power"]["available"] or record["power"]["reason"])
    assert record["accuracy"] is None
    assert record["timing"]["load_s"] >= 0 and record["timing"]["warmup_s"] > 0
    run_dir = results_dir / record["run_id"]
    assert (run_dir / "loadgen" / "performance" / "mlperf_log_detail.txt").is_file()
    assert (run_dir / "loadgen" / "performance" / "mlperf_log_summary.txt").is_file()
    assert "synthetic" in result.output


def test_offline_default_run_is_valid(bench_cli, results_dir):
    """The warm-up estimate sizes LoadGen's Offline run so the minimum duration is met."""
    result = bench_cli("run", "--backend", "onnxruntime", "--output", results_dir, *FAST_RUN)
    assert result.exit_code == 0, result.output
    perf = only_run(results_dir)["performance"]
    assert perf["valid"], perf["invalid_reasons"]
    assert perf["min_duration_met"] is True


def test_invalid_run_says_invalid_and_why(bench_cli, results_dir):
    # Expecting 0.5 samples/s makes LoadGen issue so few samples that the run ends before its minimum duration.
    result = bench_cli("run", "--backend", "null", "--output", results_dir, "--count", "8", "--duration", "2",
                       "--target-qps", "0.5")
    assert result.exit_code == 0, result.output
    perf = only_run(results_dir)["performance"]
    assert perf["valid"] is False and perf["loadgen_validity"] == "INVALID"
    assert perf["invalid_reasons"], "an INVALID run must carry LoadGen's reason"
    assert "INVALID" in result.output and "Reason" in result.output and "--target-qps" in result.output
    strict = bench_cli("run", "--backend", "null", "--output", results_dir, "--count", "8", "--duration", "2",
                       "--target-qps", "0.5", "--strict")
    assert strict.exit_code == 3, strict.output


def test_broken_registry_entry_is_listed_and_refused(bench_cli, results_dir, monkeypatch):
    monkeypatch.setitem(backends.REGISTRY, "broken", "bench.backends.no_such_module:Nothing")
    listing = bench_cli("backends")
    assert listing.exit_code == 0, listing.output
    line = next(line for line in listing.output.splitlines() if "broken" in line)
    assert "no" in line and "cannot be imported" in listing.output
    result = bench_cli("run", "--backend", "broken", "--output", results_dir)
    assert result.exit_code == 2
    assert "broken" in result.output and "no_such_module" in result.output
    assert not results_dir.exists() or not any(results_dir.iterdir()), "a refused run must leave nothing behind"


def test_backend_with_missing_package_names_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    info = backends.probe("onnxruntime")
    assert not info.available and "bench[onnxruntime]" in info.reason


def test_unknown_backend_exits_2(bench_cli, results_dir):
    result = bench_cli("run", "--backend", "nosuch", "--output", results_dir)
    assert result.exit_code == 2 and "unknown backend" in result.output and "torch" in result.output


def test_json_output_is_the_record(bench_cli, results_dir):
    result = bench_cli("run", "--backend", "null", "--output", results_dir, "--count", "8", "--duration", "1", "--json")
    assert result.exit_code == 0
    printed = json.loads(result.output[result.output.index("{"):])
    assert printed["run_id"] == only_run(results_dir)["run_id"]
