"""The result record: one directory per run, result.json written atomically and carrying a schema version."""

from __future__ import annotations

import os
import secrets
import time
import typing
from datetime import datetime, timezone
from pathlib import Path

from bench.cache import atomic_write
from bench.errors import RunFailed, UsageError
from bench.record import codec, schema
from bench.record.schema import SCHEMA
from bench.system import signals

# `died` is never written: readers show it for a `running` record whose process no longer exists.
STATUSES = typing.get_args(schema.Status)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def create_run_dir(output: str | Path, backend: str, scenario: str) -> tuple[str, Path]:
    """A new, never-reused directory: mkdir without exist_ok is the lock, so concurrent runs cannot collide."""
    output = Path(output)
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create output directory {output}: {exc.strerror}. Choose another --output.")
    if not os.access(output, os.W_OK | os.X_OK):
        raise UsageError(f"output directory {output} is not writable: choose another --output or fix its permissions")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for _ in range(100):
        run_id = f"{stamp}-{backend}-{scenario}-{secrets.token_hex(2)}"
        try:
            (output / run_id).mkdir()
            return run_id, output / run_id
        except FileExistsError:
            continue
        except OSError as exc:
            raise UsageError(f"cannot create a run directory in {output}: {exc.strerror}")
    raise UsageError(f"cannot find a free run id in {output}")


def new_record(run_id: str, config: dict) -> schema.Record:
    """A run's record as it is first written: `running`, its configuration, and who writes it (pid, host, start
    time: a reader tells a dead run from a live one)."""
    return schema.Record(run_id=run_id, started_at=utc_now(), config=codec.parse(schema.Config, config, "config"),
                         process=codec.parse(schema.Process, signals.identity(), "process"))


def write(run_dir: str | Path, record: schema.Record | dict) -> Path:
    path = Path(run_dir) / "result.json"
    try:
        atomic_write(path, codec.dumps(record))  # strict JSON: NaN/Infinity become null, listed
    except OSError as exc:  # disk full, directory removed: atomic_write left the previous file whole, and no temp
        raise RunFailed(f"cannot write {path}: {exc.strerror or exc}. Free some space or choose another --output; "
                        "results written before are untouched") from exc
    return path


def read(path: str | Path) -> schema.Record:
    """A result.json (or its run directory) as the typed record: bounded, strict, one line naming what is wrong."""
    return _checked(path)[1]


def _checked(path: str | Path) -> tuple[dict, schema.Record]:
    """A result.json's parsed JSON and its typed record (UsageError naming the file and field where it is wrong).

    Only a regular file of at most codec.MAX_BYTES is read (a FIFO or a link to /dev/zero is refused at once);
    NaN, Infinity and 1e999 read as null; every declared field must have its declared type."""
    path = Path(path)
    if path.is_dir():
        path = path / "result.json"
    try:
        parsed = codec.loads(codec.read_bounded(path))
    except FileNotFoundError:
        raise UsageError(f"{path}: no result.json here; give a run directory or a results tree")
    except OSError as exc:
        raise UsageError(f"{path}: not a readable result record ({exc.strerror or exc})")
    except (ValueError, RecursionError) as exc:  # ValueError: bad UTF-8 or JSON; RecursionError: deep nesting
        raise UsageError(f"{path}: not a readable result record ({type(exc).__name__}: {exc})")
    if not isinstance(parsed, dict) or not isinstance(parsed.get("schema"), int) or isinstance(parsed["schema"], bool):
        raise UsageError(f"{path}: not a bench result record (no schema version)")
    if parsed["schema"] > SCHEMA:
        raise UsageError(f"{path}: written by a newer bench (schema {parsed['schema']} > {SCHEMA}); upgrade bench")
    for key in ("run_id", "status", "config"):
        if key not in parsed:
            raise UsageError(f"{path}: result record lacks {key!r}")
    if not isinstance(parsed["config"], dict):
        raise UsageError(f"{path}: result record's config is not an object")
    try:
        return parsed, codec.parse(schema.Record, parsed)
    except codec.Wrong as exc:
        raise UsageError(f"{path}: result record of the wrong shape: {exc}") from None


def input_location(record: dict) -> str:
    """Where a run's samples were held: host, or device (--input-location device: not MLPerf-conformant, so bench
    submission refuses it and reports mark it), from its config or its data path."""
    extra = (record.get("config") or {}).get("extra") or {}
    path = (record.get("performance") or {}).get("data_path") or {}
    return "device" if "device" in (extra.get("input_location"), path.get("input_location")) else "host"


def load(path: str | Path, clean: bool = True) -> dict:
    """A result.json (or its run directory) read strictly (read()), as the JSON dict report code reads; `clean`: its
    text without control characters, for a terminal (False for data exports, which carry them). A `running`
    record whose writer is gone reads as `died`."""
    record = _checked(path)[0]  # what the typed record writes back (tests/test_record_schema.py), without rebuilding it
    return mark_died(codec.clean(record) if clean else record)


def load_records(paths, check=None, clean: bool = True) -> tuple[list[tuple[Path, dict]], list[str]]:
    """(run_dir, record) for every readable run at or under `paths`, and one line per one skipped (file: why).

    Total: a missing path, an unreadable or wrong-shaped record, or one that `check(run_dir, record)` (a
    reader's own use of it) raises on, is skipped with a line naming it; the rest are still read.
    """
    runs, problems = [], []
    for p in map(Path, paths):
        try:
            dirs = find_runs([p])
        except UsageError as exc:
            problems.append(codec.clean(str(exc)))
            continue
        for run_dir in dirs:
            try:
                record = load(run_dir, clean)
                if check is not None:
                    check(run_dir, record)
            except UsageError as exc:
                problems.append(codec.clean(str(exc)))
            except Exception as exc:  # noqa: BLE001 - a shape the checks above missed: skip it, say which
                problems.append(codec.clean(f"{run_dir / 'result.json'}: result record of the wrong shape "
                                                   f"({type(exc).__name__}: {exc})"))
            else:
                runs.append((run_dir, record))
    unique = {d: r for d, r in runs}  # one path inside another finds a run twice
    return sorted(unique.items(), key=lambda item: str(item[0])), problems


def mark_died(record: dict) -> dict:
    """A `running` record whose process is gone (SIGKILL, the OOM killer) reads as `died`; the file is left as is."""
    if record.get("status") == "running" and signals.alive(record.get("process")) is False:
        process = record["process"]
        record = {**record, "status": "died",
                  "error": f"process {process['pid']} on {process['host']} ended without finishing this record "
                           "(killed: SIGKILL, out of memory, power loss?)"}
    return record


def find_runs(paths) -> list[Path]:
    """Run directories (holding result.json) at or under each path, sorted, without duplicates."""
    found: set[Path] = set()
    for p in map(Path, paths):
        if (p / "result.json").is_file():
            found.add(p.resolve())
        elif p.name == "result.json" and (p.exists() or p.is_symlink()):  # any kind: read() says what is wrong
            found.add(p.parent.resolve())
        elif p.is_dir():
            found.update(r.parent.resolve() for r in p.rglob("result.json"))
        else:
            raise UsageError(f"{p}: no such run directory or results tree")
    return sorted(found)
