"""`bench tune`: a Server search that ends in a VALID confirming run and a user.conf `bench run` takes; Offline's
measured QPS; a latency bound nothing can meet stops with a clear message."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from bench.config.userconf import parse
from bench.scenarios.offline import OVERESTIMATE
from tests.conftest import FAST_RUN, only_run

# The null backend answers at once, so a Server search costs LoadGen's time only; --max-qps keeps it modest.
SERVER = ["--backend", "null", "--scenario", "server", "--model", "resnet18", "--count", "16", "--duration", "1",
          "--trial-seconds", "0.5", "--max-qps", "300"]
NULL_SERVER = [*SERVER, "--fixed"]  # the QPS search alone; the configuration search has its own tests


def _conf(path) -> dict[str, float]:
    return {key: float(value) for _, _, key, value in parse(path.read_text(), str(path))}


def test_server_tune_writes_a_user_conf_that_gives_a_valid_run(bench_cli, tmp_path):
    out = tmp_path / "tune"
    result = bench_cli("tune", *NULL_SERVER, "--latency-bound-ms", "50", "--output", out)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "tune.json").read_text())
    conf = _conf(out / "user.conf")
    assert 0 < conf["target_qps"] <= 300 and conf["target_latency"] == 50
    assert summary["value"] == conf["target_qps"] and summary["valid"] is True
    assert summary["trials"] and all(t["p99_ms"] is not None for t in summary["trials"])
    # The file holds the QPS the last confirming run passed at; a confirmation that failed (a loaded machine) was
    # followed by one lower down, never kept.
    assert summary["confirmations"][-1]["target_qps"] == conf["target_qps"]
    assert all(not c["valid"] for c in summary["confirmations"][:-1])
    assert "VALID" in result.output and "why" in result.output

    # The written file drives a plain `bench run` to the same, VALID, setting.
    runs = tmp_path / "runs"
    result = bench_cli("run", "--backend", "null", "--scenario", "server", "--model", "resnet18", "--count", "16",
                       "--duration", "1", "--latency-bound-ms", "50", "--user-conf", out / "user.conf",
                       "--output", runs, "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(next(runs.glob("*/result.json")).read_text())
    assert record["performance"]["valid"], record["performance"]["invalid_reasons"]
    assert record["performance"]["target_qps"] == conf["target_qps"]


def test_server_bound_nobody_can_meet_stops_with_advice(bench_cli, tmp_path):
    result = bench_cli("tune", *NULL_SERVER, "--latency-bound-ms", "0.001", "--output", tmp_path / "tune")
    assert result.exit_code == 1
    assert "misses the 0.001 ms p99 bound" in result.output and "--latency-bound-ms" in result.output
    assert not (tmp_path / "tune" / "user.conf").exists()


def test_offline_tune_measures_expected_qps(bench_cli, tmp_path):
    out = tmp_path / "tune"
    result = bench_cli("tune", "--backend", "torch", "--scenario", "offline", *FAST_RUN, "--trial-seconds", "1",
                       "--fixed", "--output", out)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "tune.json").read_text())
    conf = _conf(out / "user.conf")
    assert set(conf) == {"target_qps"} and conf["target_qps"] == summary["value"]
    # Expected QPS sits just above what the short run measured, so the confirming run fills its duration.
    assert summary["measured"] > 0 and conf["target_qps"] == round(OVERESTIMATE * summary["measured"], 3)
    assert summary["valid"] is True


def test_printed_command_reproduces_the_tuned_run(bench_cli, tmp_path):
    """`use it` is bench/config/run_config.py's to_command(): run as printed, it repeats the confirming run's every setting,
    --max-wait-ms and backend options included."""
    out = tmp_path / "tune"
    result = bench_cli("tune", *NULL_SERVER, "--latency-bound-ms", "50", "--max-wait-ms", "5", "--batch-size", "4",
                       "--null-image-size", "8", "--output", out)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "tune.json").read_text())
    words = shlex.split(summary["command"])
    assert words[:2] == ["bench", "run"] and "--max-wait-ms" in words and "--null-image-size" in words

    runs = tmp_path / "runs"
    again = bench_cli(*words[1:], "--output", runs)
    assert again.exit_code == 0, again.output
    tuned = json.loads((Path(summary["confirmations"][0]["run_dir"]) / "result.json").read_text())["config"]
    rerun = only_run(runs)["config"]
    assert {**rerun, "output": None} == {**tuned, "output": None}
    assert rerun["max_wait_ms"] == 5 and rerun["batch_size"] == 4 and rerun["extra"] == {"null_image_size": 8}
    assert rerun["user_conf"] == str(out / "user.conf") and rerun["latency_bound_ms"] == 50


def test_offline_tune_searches_batch_streams_threads(bench_cli, tmp_path):
    """Short trials, each a fresh load, over batch x streams x threads; the best is confirmed and printed as a
    `bench run` command with its batch, streams and threads."""
    pytest.importorskip("onnxruntime")
    out = tmp_path / "tune"
    result = bench_cli("tune", "--backend", "onnxruntime", "--scenario", "offline", "--model", "resnet18", "--count",
                       "16", "--batch-size", "2", "--threads", "1", "--duration", "0.5", "--trial-seconds", "0.5",
                       "--max-trials", "4", "--output", out)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "tune.json").read_text())
    grid = summary["configuration_search"]
    trials = grid["trials"]
    assert 2 <= len(trials) <= 4 and grid["start"] == {"streams": 1, "batch_size": 2, "threads": 1}
    measured = [t for t in trials if t["score"]]
    assert all(Path(t["run_dir"]).is_dir() for t in measured)
    # Neighbours of the start on the first axis with a step: batch (streams 2 needs 2 threads, only one given).
    assert {(t["batch_size"], t["streams"], t["threads"]) for t in trials} >= {(2, 1, 1), (4, 1, 1)}
    best = grid["point"]
    assert grid["unit"] == "samples/s" and grid["score"] == max(t["score"] for t in measured
                                             if (t["batch_size"], t["streams"], t["threads"]) ==
                                             (best["batch_size"], best["streams"], best["threads"]))
    assert grid["score"] >= grid["start_score"]
    words = shlex.split(summary["command"])
    assert ("--batch-size", str(best["batch_size"])) in zip(words, words[1:]) or best["batch_size"] == 8
    confirmed = json.loads((Path(summary["confirmations"][0]["run_dir"]) / "result.json").read_text())
    assert confirmed["backend"]["batch_size"] == best["batch_size"]
    assert confirmed["backend"]["streams"] == best["streams"] and confirmed["backend"]["threads"] == best["threads"]


def test_server_tune_searches_its_configuration_by_qps_under_the_bound(bench_cli, tmp_path):
    """Each Server configuration is scored by its own short QPS search under the bound; the best is then tuned."""
    out = tmp_path / "tune"
    result = bench_cli("tune", *SERVER, "--batch-size", "2", "--threads", "1", "--latency-bound-ms", "50",
                       "--max-trials", "3", "--output", out)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "tune.json").read_text())
    grid = summary["configuration_search"]
    assert grid["unit"] == "QPS passing the latency bound" and len(grid["trials"]) == 3
    assert all(0 < t["score"] <= 300 for t in grid["trials"]), grid["trials"]
    assert grid["score"] == max(t["score"] for t in grid["trials"])
    assert summary["valid"] is True


def test_server_configuration_search_where_nothing_passes_stops_with_advice(bench_cli, tmp_path):
    """Configurations whose QPS search passes nothing score 0 and the search goes on; none passing stops it."""
    result = bench_cli("tune", *SERVER, "--batch-size", "2", "--threads", "1", "--latency-bound-ms", "0.001",
                       "--max-trials", "3", "--output", tmp_path / "tune")
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "no configuration tried scored anything" in text and "misses the 0.001 ms p99 bound" in text
    assert not (tmp_path / "tune" / "user.conf").exists()


def test_single_stream_tune_searches_threads_only(bench_cli, tmp_path):
    """One query in flight: batch and streams stay; only the threads are searched, by one stream's queries/s."""
    out = tmp_path / "tune"
    result = bench_cli("tune", "--backend", "torch", "--scenario", "single-stream", "--model", "resnet18", "--count",
                       "8", "--threads", "1", "--duration", "0.5", "--trial-seconds", "0.5", "--max-trials", "3",
                       "--output", out)
    assert result.exit_code == 0, result.output
    grid = json.loads((out / "tune.json").read_text())["configuration_search"]
    assert grid["grid"]["streams"] == [1] and len(grid["grid"]["batch_size"]) == 1
    assert {t["threads"] for t in grid["trials"]} >= {1} and all(t["streams"] == 1 for t in grid["trials"])
    assert grid["unit"].startswith("queries/s") and all(t["score"] > 0 for t in grid["trials"] if not t["why"])


LOW = ["tune", "--backend", "null", "--scenario", "server", "--model", "resnet18", "--count", "16",
       "--null-image-size", "1", "--fixed"]


@pytest.mark.parametrize("max_qps, trial_s, says", [
    ("0.2", "1", ("--max-qps 0.2 is below the 15 QPS a --trial-seconds 1 short run", "--trial-seconds 75")),
    ("0.001", "3", ("--max-qps must be a number in 0.13..", "got 0.001")),  # the confirming run: over an hour
])
def test_a_max_qps_too_low_to_measure_is_refused_naming_it(bench_cli, tmp_path, max_qps, trial_s, says):
    """It once failed mid-search naming --target-qps, which the user never gave (a QPS rounded to 0)."""
    result = bench_cli(*LOW, "--max-qps", max_qps, "--trial-seconds", trial_s, "--output", tmp_path / "tune")
    assert result.exit_code == 2, result.output
    assert all(s in result.output for s in says), result.output
    assert "--target-qps" not in result.output and not (tmp_path / "tune").exists()


def test_low_qps_trials_last_about_their_trial_seconds(tmp_path):
    """A trial at a low QPS once waited for its 30 queries (30 minutes at 0.02 QPS) whatever --trial-seconds said:
    now the search stays at or above the QPS a trial measures in 2x its seconds, and LoadGen's max_duration holds
    each trial to that."""
    import signal
    import time

    from tests.test_endings import _bench, _wait_for_line

    out = tmp_path / "tune"
    proc = _bench([*LOW, "--max-qps", "20", "--trial-seconds", "1", "--max-trials", "3", "--latency-bound-ms",
                   "50", "--output", out], tmp_path / "cache")
    _wait_for_line(proc, "tuning Server")
    start = time.monotonic()
    seen = _wait_for_line(proc, "wrote")
    searched = time.monotonic() - start
    proc.send_signal(signal.SIGINT)  # the confirming run's 460 queries are not this test's subject
    proc.communicate(timeout=60)
    qps = [float(line.split(":")[1].split("QPS")[0]) for line in seen if line.strip().startswith("trial ")]
    assert qps and min(qps) >= 15, seen  # 30 queries in 2 x 1 s
    logs = sorted(out.glob("*/tune/trial-*/loadgen/performance/mlperf_log_detail.txt"))
    assert len(logs) == len(qps)
    assert all('"requested_max_duration_ms", "value": 2000' in p.read_text() for p in logs)
    assert searched < len(qps) * 2 + 10, f"{searched:.1f} s for {len(qps)} trials of 1 s"
