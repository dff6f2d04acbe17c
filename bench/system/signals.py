"""Every way a process ends is recorded: SIGTERM and SIGHUP stop a run as Ctrl-C does.

`timeout`, systemd, Slurm and a closed terminal stop a job with SIGTERM or SIGHUP, whose default action kills
Python at once: no `finally`, so the record stayed `running` and temporary files stayed on disk. Here both raise
`Terminated` (a KeyboardInterrupt) in the main thread, so every path that already handles Ctrl-C (the run's
record, LoadGen's wind-down, the preprocessing cache's temporary file) handles them too.

Exit status: 128 + the signal's number, as a shell reports a job the signal ended (130 Ctrl-C, 143 SIGTERM,
129 SIGHUP), so `timeout` and schedulers see why it stopped. A liveness check (`alive`) lets readers tell a
record left `running` by a process that no longer exists (SIGKILL, the OOM killer) from a live run.
"""

from __future__ import annotations

import os
import signal
import socket

HANDLED = (signal.SIGTERM, signal.SIGHUP)
_received: list[int] = []  # the first stopping signal this process got (SIGINT is Python's own KeyboardInterrupt)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where Ctrl-C would be."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _handler(signum, frame) -> None:
    if _received:  # a repeat while the run winds down (seconds at most): let the cleanup finish
        return
    _received.append(signum)
    raise Terminated(signum)


def install() -> None:
    """Handle SIGTERM and SIGHUP in this (main) thread; the CLI's entry point calls it once."""
    for signum in HANDLED:
        signal.signal(signum, _handler)


def note_interrupt(exc: BaseException | None = None) -> None:
    """Remember that Ctrl-C (or a signal) stopped the process, if nothing was remembered yet."""
    if not _received:
        _received.append(exc.signum if isinstance(exc, Terminated) else signal.SIGINT)


def exit_code() -> int:
    """128 + the signal that stopped the process (130 when it was Ctrl-C or unknown)."""
    return 128 + (_received[0] if _received else signal.SIGINT)


def reason(exc: BaseException | None = None) -> str:
    """What stopped the run, for the record's `error`."""
    signum = exc.signum if isinstance(exc, Terminated) else (_received[0] if _received else signal.SIGINT)
    if signum == signal.SIGINT:
        return "interrupted by the user (Ctrl-C)"
    return f"interrupted by {signal.Signals(signum).name} (a job scheduler, `timeout` or a closed terminal)"


# ---- liveness of the process that wrote a record ----------------------------------------------------------------

def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), which a reused pid does not share."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2:].split()[19])  # field 22; the name may hold spaces and ')'
    except (OSError, ValueError, IndexError):
        return None


def identity() -> dict:
    """What a record stores so that a reader can later tell whether its writer still runs."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "start_ticks": _start_ticks(os.getpid())}


def alive(process: dict) -> bool | None:
    """True/False for a process of this host; None when it cannot be told (another host, no pid recorded)."""
    if not isinstance(process, dict) or process.get("host") != socket.gethostname():
        return None
    pid = process.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # PermissionError: it exists, but is another user's
        pass
    ticks = process.get("start_ticks")
    now = _start_ticks(pid)
    return not (isinstance(ticks, int) and now is not None and now != ticks)  # the pid now names another process
