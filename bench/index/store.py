"""The results index: an SQLite database (WAL) beside a results tree, `<tree>/.bench-index.sqlite`.

The result.json files stay the source of truth: every column is derived from one file, a row remembers the file's
mtime and size, and a refresh re-reads only files whose mtime or size changed, adds new ones and drops removed ones.
A missing, corrupt or older-schema index is rebuilt from the files with a one-line notice.

Concurrency: many `bench run`s may write into one tree at once. Each finished run upserts its own row (if the tree
has an index) in one short `BEGIN IMMEDIATE` transaction; SQLite's lock serialises writers (busy timeout 30 s) and
WAL lets readers read meanwhile. An upsert never replaces a row with one from an older file version (mtime), and a
reader's refresh re-reads anything it finds stale, so the index converges on the files whatever the interleaving.
Records are read through bench/record/results.py in batches: memory stays flat in the number of records.
Each row also keeps the record's report row (bench/report/table.py's flat columns, as JSON, its text as recorded),
so `bench report --index` writes results.csv and the page without opening the files.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from bench.errors import UsageError
from bench.record import codec, results
from bench.stats import figures

NAME = ".bench-index.sqlite"
# 2: batch size, threads, the repeat rule and the accuracy section's presence (bench compare --index)
# 3: the report row (bench report --index)
SCHEMA = 3
BATCH = 500  # records read, then written in one transaction
COLUMNS = ("path", "mtime_ns", "size", "problem", "run_id", "status", "started_at", "config_id", "series",
           "repeat_index", "system", "backend", "model", "weights", "precision", "scenario", "mode",
           "bench_version", "backend_version", "driver", "metric_key", "metric_name", "metric_unit",
           "higher_is_better", "metric", *(name for name, *_ in figures.FIGURES), "valid", "accuracy_verdict",
           "accuracy_passed", "accuracy_synthetic", "has_accuracy", "batch_size", "threads", "until_stable",
           "stable_window", "report_row")
_DDL = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs ({", ".join(c + (" TEXT PRIMARY KEY" if c == "path" else "") for c in COLUMNS)});
CREATE INDEX IF NOT EXISTS runs_config ON runs (config_id, started_at);
"""
_UPSERT = (f"INSERT INTO runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) ON CONFLICT(path) DO "
           f"UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in COLUMNS[1:])} "
           "WHERE excluded.mtime_ns >= runs.mtime_ns")


def path_for(root) -> Path:
    return Path(root) / NAME


def _connect(db: Path) -> sqlite3.Connection:
    con = sqlite3.connect(db, timeout=30, isolation_level=None)  # transactions are explicit below
    con.execute("PRAGMA busy_timeout = 30000")
    if con.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
        raise sqlite3.DatabaseError("the index could not switch to WAL mode")
    con.execute("PRAGMA synchronous = NORMAL")
    con.execute("BEGIN IMMEDIATE")
    try:
        for statement in filter(str.strip, _DDL.split(";")):
            con.execute(statement)
        found = con.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if found is None:
            con.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
        elif found[0] != str(SCHEMA):
            raise sqlite3.DatabaseError(f"index schema {found[0]}, this bench writes {SCHEMA}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        con.close()
        raise
    return con


def _remove(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(f"{db}{suffix}")
        except FileNotFoundError:
            pass


def open_index(root, console=None) -> sqlite3.Connection:
    """The tree's index, refreshed from its files; rebuilt (with a one-line notice) when missing or unreadable."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root}: no such results tree; give the directory `bench run --output` wrote into")
    db = path_for(root)
    notice = None if db.exists() else f"index {db} missing: building it from the result.json files"
    try:
        con = _connect(db)
        if con.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError("quick_check failed")
    except sqlite3.DatabaseError as exc:  # corrupt, not a database, other schema: the files rebuild it
        notice = f"index {db} unreadable ({exc}): rebuilt from the result.json files"
        _remove(db)
        con = _connect(db)
    if notice and console is not None:
        console.print(f"[yellow]{notice}[/]", highlight=False)
    refresh(con, root)
    return con


def row(root: Path, run_dir: Path, stat: os.stat_result) -> tuple:
    """The index row of one run directory (its result.json read through the record readers)."""
    rel = os.path.relpath(run_dir, root)
    base = {"path": rel, "mtime_ns": stat.st_mtime_ns, "size": stat.st_size}
    from bench.report import table

    try:
        raw = results.load(run_dir, clean=False)  # the report row keeps the text as recorded (results.csv's)
        flat = table.row(Path(rel), raw)  # run_dir relative to the tree: records.load_report puts the root back
    except UsageError as exc:  # kept, so that an unreadable file is not re-read until it changes
        return tuple({**base, "problem": str(exc)}.get(c) for c in COLUMNS)
    except Exception as exc:  # noqa: BLE001 - a shape the readers missed, as results.load_records skips it
        return tuple({**base, "problem": codec.clean(f"{run_dir / 'result.json'}: result record of the wrong shape "
                                                      f"({type(exc).__name__}: {exc})")}.get(c) for c in COLUMNS)
    record = codec.clean(raw)
    cfg, block = record.get("config") or {}, figures.repeat(record) or {}
    heads = figures.headline(record)
    metric = heads.get(figures.METRIC, {})
    acc = figures.accuracy(record) or {}
    model, weights, backend, precision = figures.accuracy_identity(record)
    version = figures.versions(record)
    values = {
        **base, "run_id": record["run_id"], "status": record.get("status"), "started_at": record.get("started_at"),
        "config_id": figures.record_config_id(record), "series": block.get("series"),
        "repeat_index": block.get("index"), "system": figures.system(record), "backend": backend, "model": model,
        "weights": weights, "precision": precision, "scenario": cfg.get("scenario"), "mode": cfg.get("mode"),
        "bench_version": version["bench"], "backend_version": version["backend"], "driver": version["driver"],
        "metric_key": metric.get("key"), "metric_name": metric.get("name"), "metric_unit": metric.get("unit"),
        "higher_is_better": metric.get("higher_is_better"), "metric": metric.get("value"),
        **{name: heads.get(name, {}).get("value") for name, *_ in figures.FIGURES},
        "valid": (record.get("performance") or {}).get("valid"), "accuracy_verdict": acc.get("verdict"),
        "accuracy_passed": acc.get("passed"), "accuracy_synthetic": acc.get("synthetic"),
        "has_accuracy": bool(acc), "batch_size": cfg.get("batch_size"), "threads": cfg.get("threads"),
        "until_stable": (block.get("rule") or {}).get("until_stable"),
        "stable_window": (block.get("rule") or {}).get("window"),
        "report_row": json.dumps(flat, default=str, allow_nan=False),
    }
    return tuple(values.get(c) for c in COLUMNS)


def _write(con: sqlite3.Connection, rows: list[tuple], gone: list[str]) -> None:
    con.execute("BEGIN IMMEDIATE")
    try:
        con.executemany(_UPSERT, rows)
        con.executemany("DELETE FROM runs WHERE path = ?", [(p,) for p in gone])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def walk(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """(run directory relative to root, its result.json's stat) for every result.json under root, as a stream: the
    same runs results.find_runs finds (symlinked directories are not followed), without holding them all."""
    for top, dirs, files in os.walk(root):
        dirs.sort()
        if "result.json" in files:
            try:
                stat = os.stat(os.path.join(top, "result.json"))  # before reading: never stored newer than it is
            except FileNotFoundError:  # removed meanwhile
                continue
            yield os.path.relpath(top, root), stat


def refresh(con: sqlite3.Connection, root) -> dict:
    """Bring the index level with the files: {read, removed, unchanged}. Python memory stays flat in the number of
    records: runs stream from the walk in batches, and the paths seen go to a temporary table, not a set."""
    root = Path(root).resolve()
    con.execute("CREATE TEMP TABLE IF NOT EXISTS seen (path TEXT PRIMARY KEY)")
    con.execute("DELETE FROM temp.seen")
    read = unchanged = 0
    batch: list[tuple[str, os.stat_result]] = []

    def flush() -> None:
        nonlocal read, unchanged
        if not batch:
            return
        paths = [p for p, _ in batch]
        marks = ",".join("?" * len(paths))
        known = {p: (m, z) for p, m, z in con.execute(
            f"SELECT path, mtime_ns, size FROM runs WHERE path IN ({marks})", paths)}
        stale = [(p, st) for p, st in batch if known.get(p) != (st.st_mtime_ns, st.st_size)]
        unchanged += len(batch) - len(stale)
        read += len(stale)
        rows = [row(root, root / p, st) for p, st in stale]  # read outside the write lock
        con.executemany("INSERT OR IGNORE INTO temp.seen VALUES (?)", [(p,) for p in paths])
        _write(con, rows, [])
        batch.clear()

    for item in walk(root):
        batch.append(item)
        if len(batch) >= BATCH:
            flush()
    flush()
    gone = [p for (p,) in con.execute("SELECT path FROM runs WHERE path NOT IN (SELECT path FROM temp.seen)")
            if not (root / p / "result.json").exists()]  # a run written after the walk passed it stays
    _write(con, [], gone)
    return {"read": read, "removed": len(gone), "unchanged": unchanged}


def note_run(root, run_dir, console=None) -> None:
    """After a run: its row in the tree's index, if the tree has one (a reader builds it otherwise). A failure
    leaves the index to the next reader's refresh, and says so."""
    if run_dir is None or not path_for(root).exists():
        return
    root, run_dir = Path(root).resolve(), Path(run_dir).resolve()
    try:
        con = _connect(path_for(root))
        try:
            _write(con, [row(root, run_dir, os.stat(run_dir / "result.json"))], [])
        finally:
            con.close()
    except (sqlite3.Error, OSError) as exc:
        if console is not None:
            console.print(f"[yellow]index {path_for(root)} not updated ({exc}); the next `bench history` "
                          "refreshes it from the files[/]", highlight=False)


def query(con: sqlite3.Connection, sql: str, args=()) -> list[dict]:
    cur = con.execute(sql, args)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur]
