"""The local executor: every cell on this machine, one at a time, each in a fresh `bench run` process."""

from __future__ import annotations

import socket

from bench.sweep import rounds
from bench.sweep.cell import failed, local_identity, run_cell
from bench.sweep.plan import Cell, Target
from bench.sweep.progress import Progress, where
from bench.sweep.tree import Sweep
from bench.system import signals


def refusal(target: Target) -> str | None:
    """Why this machine cannot stand for the target (None: it can)."""
    if target.resources or target.accelerator or target.labels:
        return (f"target {target.name} picks nodes by Ray resources, labels or accelerator type: "
                "run the plan with --ray ADDRESS (or give the target only a hostname)")
    if target.hostname and target.hostname != socket.gethostname():
        return (f"target {target.name} is host {target.hostname}, this is {socket.gethostname()}: "
                "run it there or with --ray")
    return None


def execute(sweep: Sweep, cells: list[Cell], retries: int, progress: Progress) -> None:
    node = local_identity()
    for cell in cells:
        entry = sweep.state(cell)
        reason = refusal(cell.target)
        if reason:
            sweep.mark(cell, "unplaceable", reason)
            progress.event(entry, "unplaceable", reason)
            continue
        for _ in range(retries + 1):
            sweep.mark(cell, "running", node=node)
            progress.event(entry, "running", where(node))
            try:
                outcome = run_cell(cell.options, node, rounds.block(sweep, cell))
            except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM or SIGHUP (bench/system/signals.py): named as it was
                signals.note_interrupt(exc)
                sweep.mark(cell, "interrupted", signals.reason(exc))
                raise
            except OSError as exc:  # no room for its temporary directory, ...: this cell failed, the sweep goes on
                outcome = failed(f"cannot run the cell here: {exc.strerror or exc} ({exc.filename or 'no path'})",
                                 node)
            settled = sweep.attempt(cell, outcome)
            # What the sweep settled on, not what the cell reported: a run that could not land failed, and says why.
            progress.event(entry, entry["status"], entry["reason"] or f"{where(node)} -> {entry['path']}")
            if settled:
                break
