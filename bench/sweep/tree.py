"""The sweep's results tree and its log: <output>/<target>/<cell-key>/<run-id>/ and <output>/sweep-<id>.json.

A run directory lands whole (extracted beside its place, then renamed) or not at all; each sweep writes its own
log, atomically, after every event, so two sweeps into one output never collide and a killed sweep's log is whole.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import tarfile
import tempfile
import threading
import time
from pathlib import Path

from bench import safe_names
from bench.cache import atomic_write
from bench.errors import UsageError
from bench.record import results
from bench.record.results import utc_now
from bench.sweep.plan import Cell, Plan

CELL_FILE = "cell.json"


def iso(t: float | None) -> str | None:
    return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


def entry(cell: Cell, status: str, reason: str | None = None) -> dict:
    return {"target": cell.target.name, "key": cell.key, "config_hash": cell.config_hash,
            "options_hash": cell.options_hash, "options": cell.options, "status": status, "reason": reason,
            "node": None, "path": None, "attempts": []}


class Sweep:
    """Every cell's state and attempts; the log on disk follows each change."""

    def __init__(self, plan: Plan, output: str | Path, executor: str):
        self.output = Path(output)
        self.output.mkdir(parents=True, exist_ok=True)
        self.id = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
        self.log_path = self.output / f"sweep-{self.id}.json"
        self.lock = threading.Lock()
        self.cells = {c.config_hash: entry(c, "pending") for c in plan.cells}
        self.cells.update({c.config_hash: entry(c, "skipped", reason) for c, reason in plan.skipped})
        self.log = {"sweep_id": self.id, "plan": str(plan.path), "plan_sha256": plan.digest, "executor": executor,
                    "status": "running", "started_at": utc_now(), "finished_at": None, "nodes": {}, "warnings": [],
                    "cells": list(self.cells.values())}
        self.save()

    def save(self) -> None:
        with self.lock:
            atomic_write(self.log_path, json.dumps(self.log, indent=2, default=str) + "\n")

    def state(self, cell: Cell) -> dict:
        return self.cells[cell.config_hash]

    def mark(self, cell: Cell, status: str, reason: str | None = None, node: dict | None = None) -> None:
        entry = self.state(cell)
        entry.update(status=status, reason=reason)
        if node:
            entry["node"] = node
            self.log["nodes"][node["node_id"]] = node
        self.save()

    def attempt(self, cell: Cell, outcome: dict) -> bool:
        """Record one attempt; land its run if complete. True when the cell is settled (complete or skipped)."""
        entry = self.state(cell)
        record = {k: v for k, v in outcome.items() if k != "tar"}
        record["started_at"], record["finished_at"] = iso(outcome.get("started_at")), iso(outcome.get("finished_at"))
        entry["attempts"].append(record)
        if outcome["status"] == "complete":
            try:
                entry["path"] = str(land(self.output, cell, outcome, self.id).relative_to(self.output))
            except (OSError, ValueError) as exc:  # disk full, a clashing or unsafe run id: this attempt failed
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                outcome = {**outcome, "status": "failed", "reason": f"cannot land the run in {self.output}: {why}"}
                record.update(status=outcome["status"], reason=outcome["reason"])
        self.mark(cell, outcome["status"], outcome.get("reason"), outcome.get("node"))
        return outcome["status"] in ("complete", "skipped")

    def finish(self, status: str, warnings: list[str]) -> None:
        self.log.update(status=status, finished_at=utc_now(), warnings=warnings)
        self.save()


def land(output: Path, cell: Cell, outcome: dict, sweep_id: str) -> Path:
    """Extract the run beside its place, add cell.json, rename into place: never half a run in the tree."""
    parent = safe_names.inside(output, cell.target.name, cell.key)
    final = safe_names.inside(parent, outcome["run_id"])  # a run id from another node: one safe name, or refused
    safe_names.check_under(output, parent)  # a link planted at <output>/<target> does not carry runs elsewhere
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=".landing-"))
    try:
        with tarfile.open(fileobj=io.BytesIO(outcome["tar"])) as tar:
            tar.extractall(staging, filter="data")
        meta = {"sweep_id": sweep_id, "target": cell.target.name, "config_hash": cell.config_hash,
                "options_hash": cell.options_hash, "options": cell.options, "node": outcome["node"],
                "software": outcome["software"], "started_at": outcome["started_at"],
                "finished_at": outcome["finished_at"], "run_id": outcome["run_id"]}
        (staging / CELL_FILE).write_text(json.dumps(meta, indent=2, default=str) + "\n")
        os.rename(staging, final)  # fails rather than merge if another sweep landed this very run id
        return final
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def landed(output: Path, cell: Cell) -> list[Path]:
    """Complete runs of this cell already in the tree (same configuration hash), each record read whole and
    strictly first: a cut-short, unreadable or not-`complete` result.json is not a done cell."""
    parent = safe_names.inside(output, cell.target.name, cell.key)
    found = []
    for run in sorted(parent.glob("[!.]*")):
        try:
            meta = json.loads((run / CELL_FILE).read_text())
            record = results.load(run)
        except (OSError, ValueError, UsageError):
            continue
        if (isinstance(meta, dict) and meta.get("config_hash") == cell.config_hash
                and record.get("status") == "complete"):
            found.append(run)
    return found


def version_warnings(output: Path) -> list[str]:
    """Cells whose runs (on different nodes or targets) ran different harness or backend versions."""
    seen: dict[str, dict[str, set]] = {}
    for meta_path in output.glob(f"*/*/[!.]*/{CELL_FILE}"):
        try:
            meta = json.loads(meta_path.read_text())
            record = json.loads((meta_path.parent / "result.json").read_text())
        except (OSError, ValueError):
            continue
        sw = meta.get("software") or {}
        versions = seen.setdefault(meta.get("options_hash", "?"), {"bench": set(), "backend": set(), "key": set()})
        commit = (sw.get("git_hash") or "no git")[:12] + (" dirty" if sw.get("git_dirty") else "")
        versions["bench"].add(f"{sw.get('bench_version')} ({commit})")
        versions["backend"].add(str((record.get("backend") or {}).get("version")))
        versions["key"].add(meta_path.parent.parent.name)
    warnings = []
    for versions in seen.values():
        for what in ("bench", "backend"):
            if len(versions[what]) > 1:
                warnings.append(f"{'/'.join(sorted(versions['key']))}: nodes ran different {what} versions: "
                                f"{', '.join(sorted(versions[what]))}")
    return warnings
