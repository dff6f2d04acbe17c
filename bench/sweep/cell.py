"""One cell, run on whichever machine holds it: check it here, run `bench run` in a fresh process, pack the result.

The same function serves the local executor and a Ray task, so both land the same tree.
"""

from __future__ import annotations

import io
import json
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from bench.sweep.options import to_command
from bench.system import signals

# Seconds a `bench run` gets to write its interrupted record after Ctrl-C before it is killed.
INTERRUPT_GRACE_S = 10.0


def local_identity() -> dict:
    return {"node_id": "local", "hostname": socket.gethostname(), "ip": None}


def software() -> dict:
    """The harness that runs here: its version and, in a git checkout, the commit."""
    from bench import __version__

    root = Path(__file__).resolve().parents[2]
    commit = dirty = None
    if (root / ".git").exists():  # a checkout; an installed wheel has no commit (and may sit in another repo)
        try:
            git = ["git", "-C", str(root)]
            head = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
            commit = head.stdout.strip() if head.returncode == 0 else None
            status = subprocess.run(git + ["status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                    text=True, timeout=10)
            dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
        except (OSError, subprocess.TimeoutExpired):
            pass
    return {"bench_version": __version__, "git_hash": commit, "git_dirty": dirty, "python": sys.version.split()[0]}


def machine_refusal(options: dict) -> str | None:
    """The backend's own verdict on this machine (installed, device present, precision native); None: it runs."""
    from bench import backends
    from bench.config.run_config import DEFAULTS
    from bench.errors import BenchError
    from bench.sweep.plan import backend_options

    try:
        backend = backends.create(options.get("backend", DEFAULTS["backend"]), backend_options(options))
    except BenchError as exc:
        return str(exc)
    backend.close()
    return None


def _die_with_parent() -> None:
    """Linux: the benchmark dies with the process that started it (a Ray worker on a node that is removed)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def run_cell(options: dict, node: dict, series: dict | None = None) -> dict:
    """Run one cell here. Returns the outcome: status, reason, node, software, times, and the run as tar bytes.
    `series`: the cell's repeat block this round (bench/sweep/rounds.py), given to bench run as --in-series."""
    outcome = {"node": node, "software": software(), "started_at": time.time(), "finished_at": None,
               "status": None, "reason": None, "run_id": None, "returncode": None, "tar": None}
    refusal = machine_refusal(options)
    if refusal:
        return {**outcome, "status": "skipped", "reason": refusal, "finished_at": time.time()}
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        log = Path(tmp, "bench-run.log")
        argv = to_command(options, str(Path(tmp, "out")))
        if series is not None:
            argv += ["--in-series", json.dumps(series)]
        with open(log, "w") as log_file:
            outcome["started_at"] = time.time()
            # Own session: the terminal's Ctrl-C reaches the sweep, which forwards it once.
            proc = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=_die_with_parent if sys.platform == "linux" else None)
            try:
                outcome["returncode"] = proc.wait()
            except BaseException as exc:  # a signal or a Ray cancel: bench run writes its interrupted record
                signals.note_interrupt(exc if isinstance(exc, KeyboardInterrupt) else None)
                proc.send_signal(signals.received())  # the signal that stopped the sweep: its record says which
                try:
                    proc.wait(INTERRUPT_GRACE_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                raise
        outcome["finished_at"] = time.time()
        runs = [p for p in Path(tmp, "out").glob("*") if (p / "result.json").is_file()]
        text = log.read_text(errors="replace")
        status = json.loads((runs[0] / "result.json").read_text()).get("status") if len(runs) == 1 else None
        if outcome["returncode"] != 0 or status != "complete":
            return {**outcome, "status": "failed", "reason": failure_reason(outcome["returncode"], status, text)}
        log.rename(runs[0] / "bench-run.log")
        return {**outcome, "status": "complete", "run_id": runs[0].name, "tar": pack(runs[0])}


def failed(reason: str, node: dict | None) -> dict:
    """The outcome of an attempt that never got a record (the cell could not start, its node died)."""
    return {"node": node, "software": None, "started_at": None, "finished_at": time.time(), "status": "failed",
            "reason": reason, "run_id": None, "returncode": None, "tar": None}


def failure_reason(returncode: int, status: str | None, log: str) -> str:
    """bench run's own error line when it printed one, else the exit status and the record's status."""
    errors = [line.strip() for line in log.splitlines() if line.strip().startswith("error:")]
    detail = errors[-1] if errors else (log.strip().splitlines() or ["no output"])[-1]
    return f"bench run exited {returncode} (record status: {status or 'none'}): {detail}"


def pack(run_dir: Path) -> bytes:
    """The run directory as tar bytes, result.json last: an archive cut short never holds a record."""
    buffer = io.BytesIO()
    files = sorted(p for p in run_dir.rglob("*") if p.is_file())
    files.sort(key=lambda p: p.name == "result.json")
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in files:
            tar.add(path, arcname=str(path.relative_to(run_dir)))
    return buffer.getvalue()
