"""Every way a process ends is recorded: SIGTERM/SIGHUP, SIGKILL (readers say `died`), LoadGen raising (`failed`).

Each drives a real `bench` process (python -m bench.cli) and sends real signals.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FAST_RUN, TEST_DATA

RESNET = FAST_RUN[:-2]  # without "--duration 1"


def _bench(args, cache: Path, code: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "BENCH_CACHE": str(cache)}
    head = ["-c", code] if code else ["-m", "bench.cli"]
    return subprocess.Popen([sys.executable, *head, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)


def _wait_for_line(proc: subprocess.Popen, prefix: str) -> list[str]:
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith(prefix):
            return seen
    raise AssertionError(f"never saw {prefix!r}:\n{''.join(seen)}")


def _leftovers(*roots: Path) -> list[Path]:
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.name.endswith(".tmp")]


def _dataset(tmp_path: Path, n: int) -> Path:
    """n distinct image paths (symlinks to the bundled images): each is decoded, so preprocessing takes a while."""
    images = sorted((TEST_DATA / "imagenet").glob("*.JPEG"))
    root = tmp_path / "data"
    root.mkdir()
    lines = []
    for i in range(n):
        (root / f"img{i:05d}.JPEG").symlink_to(images[i % len(images)])
        lines.append(f"img{i:05d}.JPEG {i % 1000}")
    (root / "val_map.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.mark.parametrize("phase,signum", [("loading", signal.SIGTERM), ("running LoadGen", signal.SIGTERM),
                                          ("running LoadGen", signal.SIGHUP)])
def test_sigterm_and_sighup_keep_an_interrupted_record(tmp_path, phase, signum):
    out, cache = tmp_path / "results", tmp_path / "cache"
    proc = _bench(["run", "--backend", "torch", *RESNET, "--duration", "30", "--output", out], cache)
    seen = _wait_for_line(proc, phase)
    time.sleep(0.5)
    proc.send_signal(signum)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, "".join(seen) + rest
    (path,) = out.glob("*/result.json")
    record = json.loads(path.read_text())
    assert record["status"] == "interrupted" and record["finished_at"], record
    assert signal.Signals(signum).name in record["error"]
    assert not _leftovers(out, cache)


def test_sigterm_while_preprocessing_leaves_no_temporary_file(tmp_path):
    out, cache = tmp_path / "results", tmp_path / "cache"
    data = _dataset(tmp_path, 400)
    proc = _bench(["run", "--backend", "torch", "--model", "resnet18", "--dataset", data, "--threads", "1",
                   "--duration", "1", "--output", out], cache)
    deadline = time.monotonic() + 120
    while not _leftovers(cache):  # the cache's temporary file appears once preprocessing starts
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, rest
    assert "SIGTERM" in rest and "Traceback" not in rest
    assert not _leftovers(out, cache), "the half-written preprocessing cache must be removed"
    assert not list((cache / "datasets").glob("*.npy")), "an interrupted cache must never be kept as complete"
    # Preprocessing runs before the timed run, and still leaves a record saying it was stopped, and by what.
    (path,) = out.glob("*/result.json")
    record = json.loads(path.read_text())
    assert record["status"] == "interrupted" and "SIGTERM" in record["error"] and record["finished_at"], record


def test_a_killed_run_reads_as_died(tmp_path, bench_cli):
    out, cache = tmp_path / "results", tmp_path / "cache"
    proc = _bench(["run", "--backend", "torch", *RESNET, "--duration", "30", "--output", out], cache)
    _wait_for_line(proc, "running LoadGen")
    proc.kill()  # SIGKILL: no handler runs, the record stays `running` on disk
    proc.communicate(timeout=30)
    (path,) = out.glob("*/result.json")
    assert json.loads(path.read_text())["status"] == "running"
    result = bench_cli("report", out, "--out", tmp_path / "report")
    assert result.exit_code == 0, result.output
    csv = (tmp_path / "report" / "results.csv").read_text()
    assert ",died," in csv and ",running," not in csv
    compared = bench_cli("compare", out)
    assert compared.exit_code == 0 and "running" not in compared.output


INJECT = """
import sys
import bench.run.loadgen_run as h
def boom(*args):
    raise RuntimeError("LoadGen refused the settings (injected)")
h.lg.StartTestWithLogSettings = boom
sys.argv[0] = "bench"
from bench.cli import main
main()
"""


def test_loadgen_raising_is_a_failed_run_in_its_words(tmp_path):
    out, cache = tmp_path / "results", tmp_path / "cache"
    proc = _bench(["run", "--backend", "null", "--count", "8", "--duration", "1", "--output", out], cache, INJECT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1, output
    assert "LoadGen raised during the performance run: RuntimeError: LoadGen refused the settings" in output
    (path,) = out.glob("*/result.json")
    record = json.loads(path.read_text())
    assert record["status"] == "failed" and "LoadGen refused the settings" in record["error"]
