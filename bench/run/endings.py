"""A LoadGen run that did not finish is a failed run, in LoadGen's own words, never `complete` with null metrics."""

from __future__ import annotations

from pathlib import Path

from bench.errors import RunFailed
from bench.record import loadgen_log
from bench.system import run_dir as layout


def check_loadgen(raised: list[BaseException], log_dir: Path, mode: str) -> None:
    """Raise RunFailed if LoadGen raised on its thread, or (performance) logged no result and said why."""
    if raised:
        exc = raised[0]
        failed = RunFailed(f"LoadGen raised during the {mode} run: {type(exc).__name__}: {exc} "
                           f"(its logs are in {log_dir})")
        # LoadGen's global state is not trusted after it threw (std::bad_alloc left it to crash in its
        # destructors at exit, 139): the CLI leaves with os._exit once the record is written.
        failed.leave_now = True
        raise failed from exc
    detail = log_dir / layout.DETAIL
    if mode != "performance" or not detail.exists():
        return  # a missing detail log is reported by the caller, which names it
    parsed = loadgen_log.read_detail(detail)
    if "result_validity" not in parsed:
        words = "; ".join(parsed["_errors"]) or "no result in its detail log"
        raise RunFailed(f"LoadGen ended the {mode} run without a result: {words} (see {detail})")
