"""Every long-running command ends cleanly on SIGINT, SIGTERM and SIGHUP, sent in its timed phase.

One mechanism for all (bench/system/signals.py): the signal unwinds the command, temporary files go, a record says
`interrupted` and which signal, LoadGen's thread ends before the process leaves, and the exit status is 128 + the
signal (130, 143, 129), never a crash at teardown (tune once ended 134 "terminate called without an active
exception", or 139). Each case is a real `bench` process; each signal is sent to several commands, each command
gets at least one (bench run's SIGTERM and SIGHUP with torch are in test_endings.py). The cases run at once
(they mostly wait), each with its own TMPDIR, so whatever a command leaves in it is seen.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_endings import _dataset

# A backend that takes 50 ms a batch (tests/faulty_backends.py): an Offline run lasts seconds, not microseconds.
PRELUDE = """
import sys
from bench import backends
backends.REGISTRY["slow"] = "tests.faulty_backends:Slow"
{extra}
sys.argv[0] = "bench"
from bench.cli import main
main()
"""
# Each copy into the submission tree takes 0.3 s: the signal lands mid-build.
SLOW_COPY = """
import shutil, time
_copy2 = shutil.copy2
def _slow(*args, **kwargs):
    time.sleep(0.3)
    return _copy2(*args, **kwargs)
shutil.copy2 = _slow
"""
SLOW = ["--backend", "slow", "--model", "resnet18", "--count", "16", "--batch-size", "8"]
CRASHES = ("Traceback", "terminate called", "core dumped", "double free", "Segmentation", "Aborted")
CASES = [("run", signal.SIGINT), ("tune", signal.SIGTERM), ("tune", signal.SIGINT), ("audit", signal.SIGHUP),
         ("sweep", signal.SIGTERM), ("verify", signal.SIGHUP), ("fetch", signal.SIGTERM),
         ("submission", signal.SIGINT)]
PLAN = """
[defaults]
backend = "null"
model = "resnet18"
count = 16
null-image-size = 1
duration = 20
target-qps = 50
[matrix]
scenario = ["server", "offline"]
"""


class _Trickle(http.server.BaseHTTPRequestHandler):
    """A model download that announces its known size and sends 8 KiB every 50 ms (at most a minute)."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "102530333")
        self.end_headers()
        try:
            for _ in range(1200):
                self.wfile.write(b"\0" * 8192)
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:  # the client went away: what the test wants
            pass

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def trickle():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/resnet50.pth"
    server.shutdown()
    server.server_close()


def _digest(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _setup(command: str, tmp_path: Path, url: str) -> tuple[list[str], str, str]:
    """The command's arguments, the glob (under tmp_path) that appears once it is in its timed phase, and the
    code to run it with (the CLI, or the CLI behind a prelude)."""
    out = tmp_path / "out"
    if command == "run":
        return ["run", *SLOW, "--target-qps", "100", "--duration", "20", "--output", out], \
            "out/*/loadgen/performance", PRELUDE.format(extra="")
    if command == "tune":  # the configuration search's first trial: where SIGTERM aborted and SIGINT segfaulted
        return ["tune", "--scenario", "offline", *SLOW, "--trial-seconds", "20", "--output", out], \
            "out/search/*/tune/trial-01/loadgen/performance", PRELUDE.format(extra="")
    if command == "audit":
        return ["audit", "TEST01", "--scenario", "offline", *SLOW, "--target-qps", "100", "--duration", "20",
                "--output", out], "out/*/loadgen/performance", PRELUDE.format(extra="")
    if command == "sweep":
        (tmp_path / "plan.toml").write_text(PLAN)
        return ["sweep", tmp_path / "plan.toml", "--output", out], "tmp/bench-sweep-*/out/*/loadgen/performance", ""
    if command == "verify":
        data = _dataset(tmp_path, 400)
        return ["verify", "--backends", "null,null", "--model", "resnet18", "--dataset", data], \
            "cache/datasets/*.tmp", ""
    if command == "fetch":
        return ["fetch", "resnet50-torchvision-v1", "--url", url], "cache/models/.*.part", ""
    # submission: a finished tree first; the rebuild is stopped mid-copy and must leave that tree as it was
    results = tmp_path / "results"
    subprocess.run([sys.executable, "-m", "bench.cli", "run", "--backend", "null", "--model", "resnet18", "--count",
                    "16", "--null-image-size", "1", "--duration", "0.5", "--target-qps", "2000", "--mode", "both",
                    "--output", results], check=True, capture_output=True, env=_env(tmp_path), timeout=120)
    args = ["submission", "--results", results, "--out", out, "--submitter", "Acme", "--division", "open"]
    subprocess.run([sys.executable, "-m", "bench.cli", *map(str, args)], check=True, capture_output=True,
                   env=_env(tmp_path), timeout=120)
    return args, "out/open/.Acme.partial/*", PRELUDE.format(extra=SLOW_COPY)


def _env(tmp_path: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_CACHE": str(tmp_path / "cache"),
            "TMPDIR": str(tmp_path / "tmp")}


def _drive(command: str, signum: signal.Signals, root: Path, url: str) -> dict:
    """Start the command, wait for its timed phase, send the signal; what the test then checks."""
    (root / "tmp").mkdir()
    args, ready, code = _setup(command, root, url)
    before = _digest(root / "out") if (root / "out").exists() else {}
    log = root / "log"
    with open(log, "w") as sink:
        head = ["-c", code] if code else ["-m", "bench.cli"]
        proc = subprocess.Popen([sys.executable, *head, *map(str, args)], stdout=sink, stderr=subprocess.STDOUT,
                                env=_env(root), cwd=ROOT)
        try:
            deadline = time.monotonic() + 150
            while not list(root.glob(ready)):
                if proc.poll() is not None or time.monotonic() > deadline:
                    return {"root": root, "returncode": None, "text": f"never reached {ready}:\n{log.read_text()}"}
                time.sleep(0.05)
            time.sleep(1.0)  # into the timed phase
            proc.send_signal(signum)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    return {"root": root, "returncode": proc.returncode, "text": log.read_text(), "before": before}


@pytest.fixture(scope="module")
def ended(tmp_path_factory, trickle) -> dict:
    """Every case at once, each in its own directory: the processes mostly wait (a signal lands a second into the
    timed phase), so the module costs about its slowest case, not their sum."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(CASES)) as pool:
        futures = {(c, s): pool.submit(_drive, c, s, tmp_path_factory.mktemp(f"{c}-{s.name}"), trickle)
                   for c, s in CASES}
        return {case: future.result() for case, future in futures.items()}


@pytest.mark.parametrize("command, signum", CASES, ids=[f"{c}-{s.name}" for c, s in CASES])
def test_each_command_ends_cleanly_on_each_signal(ended, command, signum):
    outcome = ended[(command, signum)]
    root, text = outcome["root"], outcome["text"]
    assert outcome["returncode"] == 128 + signum, text
    assert not [c for c in CRASHES if c in text], text
    reason = "Ctrl-C" if signum == signal.SIGINT else signum.name
    assert reason in text, text  # it says what stopped it
    left = [p for p in (root / "tmp").iterdir() if not p.name.startswith("torchinductor_")]  # torch's own cache
    assert not left, f"temporary files were left in TMPDIR: {left}"
    leftovers = [p for p in root.rglob("*") if p.name.endswith((".tmp", ".part", ".partial"))]
    assert not leftovers, leftovers
    if command in ("run", "tune", "audit"):
        (record,) = [json.loads(p.read_text()) for p in (root / "out").rglob("result.json")]
        assert record["status"] == "interrupted" and record["finished_at"], record
        assert reason in record["error"], record["error"]
        assert "left running" not in record["error"], "LoadGen's thread must end before the process leaves"
    if command == "sweep":
        (sweep_log,) = (root / "out").glob("sweep-*.json")
        logged = json.loads(sweep_log.read_text())
        assert logged["status"] == "interrupted" and reason in logged["error"], logged
        assert [c["status"] for c in logged["cells"]] == ["interrupted", "pending"], logged["cells"]
        assert reason in logged["cells"][0]["reason"]
    if command == "fetch":
        assert not list((root / "cache" / "models").iterdir()), "a partial download was kept"
    if command == "submission":
        assert _digest(root / "out") == outcome["before"], "the earlier submission tree was changed"
