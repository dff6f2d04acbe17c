"""Faults during a run: a backend that raises or misbehaves, Ctrl-C, full disks, concurrent runs.

Each drives the real CLI and checks the exit code, the message, and that earlier results are intact.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import backends
from tests.conftest import FAST_RUN

NULL_RUN = ["--backend", "null", "--count", "8", "--duration", "1"]


@pytest.fixture
def earlier_run(bench_cli, results_dir) -> tuple[Path, bytes]:
    """A finished run in the same results tree, whose bytes must never change."""
    assert bench_cli("run", *NULL_RUN, "--output", results_dir).exit_code == 0
    path = next(results_dir.glob("*/result.json"))
    return path, path.read_bytes()


def test_backend_raising_mid_run_fails_cleanly(bench_cli, results_dir, earlier_run, monkeypatch):
    monkeypatch.setitem(backends.REGISTRY, "raises-mid-run", "tests.faulty_backends:RaisesMidRun")
    start = time.perf_counter()
    result = bench_cli("run", "--backend", "raises-mid-run", "--count", "8", "--duration", "5",
                       "--output", results_dir)
    assert time.perf_counter() - start < 30, "LoadGen must not hang waiting for unanswered queries"
    assert result.exit_code == 1, result.output
    assert "device lost (injected)" in result.output and "Traceback" not in result.output
    record = json.loads(next(p for p in results_dir.glob("*/result.json") if p != earlier_run[0]).read_text())
    assert record["status"] == "failed" and "device lost" in record["error"]
    assert earlier_run[0].read_bytes() == earlier_run[1]


def test_backend_returning_wrong_shape_is_stopped_before_timing(bench_cli, results_dir, earlier_run, monkeypatch):
    monkeypatch.setitem(backends.REGISTRY, "wrong-shape", "tests.faulty_backends:WrongShape")
    result = bench_cli("run", "--backend", "wrong-shape", "--count", "8", "--output", results_dir)
    assert result.exit_code == 1, result.output
    assert "one class id per sample" in result.output and "(8, 1000)" in result.output
    record = _new_record(results_dir, earlier_run)
    assert record["status"] == "failed" and record["performance"] is None


def test_disk_full_while_writing_results_keeps_earlier_results(bench_cli, results_dir, earlier_run, monkeypatch):
    import bench.cache

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bench.cache.os, "fsync", full)
    result = bench_cli("run", *NULL_RUN, "--output", results_dir)
    assert result.exit_code in (1, 2), result.output
    assert "No space left on device" in result.output and "Traceback" not in result.output
    assert earlier_run[0].read_bytes() == earlier_run[1]
    assert not list(results_dir.rglob("*.tmp")), "a failed atomic write must leave no temporary file"


def test_output_directory_not_writable(bench_cli, tmp_path):
    if os.geteuid() == 0:
        locked = Path("/proc/bench-not-writable")  # root writes anywhere a mode allows; /proc refuses
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
    result = bench_cli("run", *NULL_RUN, "--output", locked)
    assert result.exit_code == 2, result.output
    assert str(locked) in result.output and "--output" in result.output


def _new_record(results: Path, earlier_run: tuple[Path, bytes]) -> dict:
    """The record of the run under test, after checking that the earlier run's is byte for byte unchanged."""
    assert earlier_run[0].read_bytes() == earlier_run[1], "an earlier result was changed"
    (path,) = [p for p in results.glob("*/result.json") if p != earlier_run[0]]
    return json.loads(path.read_text())


def _bench(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bench.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kwargs)


@pytest.mark.parametrize("phase", ["warming up", "running LoadGen"])
def test_ctrl_c_keeps_an_interrupted_record(results_dir, earlier_run, phase):
    out = results_dir
    proc = _bench("run", "--backend", "torch", *FAST_RUN[:-2], "--duration", "30", "--output", str(out))
    seen = []
    for line in proc.stdout:  # wait for the phase, then press Ctrl-C
        seen.append(line)
        if line.startswith(phase):
            break
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    start = time.perf_counter()
    rest, _ = proc.communicate(timeout=30)
    assert time.perf_counter() - start < 10, "Ctrl-C must stop the run within seconds"
    assert proc.returncode == 130, "".join(seen) + rest
    assert "interrupted by the user (Ctrl-C); what was measured so far is in" in rest
    record = _new_record(out, earlier_run)
    assert record["status"] == "interrupted" and record["finished_at"]
    if phase == "running LoadGen":
        assert (out / record["run_id"] / "loadgen" / "performance" / "mlperf_log_detail.txt").exists()


def test_concurrent_runs_into_one_output_get_distinct_ids(tmp_path):
    out = tmp_path / "results"
    procs = [_bench("run", *NULL_RUN, "--output", str(out)) for _ in range(2)]
    for proc in procs:
        output, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, output
    records = [json.loads(p.read_text()) for p in out.glob("*/result.json")]
    assert len(records) == 2 and len({r["run_id"] for r in records}) == 2
    assert all(r["status"] == "complete" for r in records)
