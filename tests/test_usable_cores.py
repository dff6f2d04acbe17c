"""Limits come from the cores this process may use (taskset, a cpuset), not the machine's count, and a refusal's
advice is itself accepted. Each case is a real `bench run` pinned to one CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux's")
NULL = ["--backend", "null", "--model", "resnet18", "--count", "8", "--null-image-size", "1", "--duration", "0.5"]


def _pinned(tmp_path, *args) -> subprocess.CompletedProcess:
    """`bench ARGS` as `taskset -c <one CPU>` would run it."""
    cpu = min(os.sched_getaffinity(0))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_CACHE": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, "-m", "bench.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300, check=False, preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))


def test_threads_are_bounded_by_the_usable_cores_and_the_record_agrees(tmp_path):
    out = tmp_path / "results"
    refused = _pinned(tmp_path, "run", *NULL, "--threads", "8", "--output", out)
    assert refused.returncode == 2, refused.stderr
    assert "--threads must be an integer in 1..4" in refused.stderr and "got 8" in refused.stderr
    assert not out.exists()
    ran = _pinned(tmp_path, "run", *NULL, "--threads", "4", "--output", out)
    assert ran.returncode == 0, ran.stderr
    (path,) = out.glob("*/result.json")
    record = json.loads(path.read_text())
    assert record["system"]["usable_cores"] == 1 and record["config"]["threads"] == 4


@pytest.mark.parametrize("streams, advice", [("8", "give --streams 2 or fewer (--threads is at most 4 here"),
                                             ("3", "give --threads 3 or more (at most 4 here)")])
def test_the_streams_refusal_advises_values_that_are_accepted(tmp_path, streams, advice):
    """It once advised --threads 8 where --threads is at most 4."""
    result = _pinned(tmp_path, "run", "--backend", "torch", "--model", "resnet18", "--count", "8", "--streams",
                     streams, "--threads", "2", "--duration", "0.5", "--output", tmp_path / "results")
    assert result.returncode == 2, result.stderr
    assert f"--streams {streams} needs at least one thread each, but --threads is 2: {advice}" in result.stderr
