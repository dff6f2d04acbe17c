"""Records for `bench compare --index` and `bench report --index`: each tree's index rows as the part of a record
the verdicts read, and the report's flat rows."""

from __future__ import annotations

import json
from pathlib import Path

from bench.index import store
from bench.stats import figures


def load(paths, console=None) -> tuple[list[tuple[Path, dict]], list[str]]:
    """(run_dir, partial record) for every readable run in each tree's index (refreshed first), and the problems
    the index holds for unreadable files, as results.load_records returns them."""
    found, _rows, problems = load_report(paths, console, report_rows=False)
    return found, problems


def load_report(paths, console=None, report_rows: bool = True) -> tuple[list[tuple[Path, dict]], list[dict], list[str]]:
    """As load(), and each run's report row (bench/report/table.py's columns), its run_dir under the tree."""
    found, flat, problems = [], [], []
    for root in map(Path, paths):
        con = store.open_index(root, console)
        top = root.resolve()  # once: a resolve per run costs a second over 10,000
        try:
            for row in store.query(con, "SELECT * FROM runs ORDER BY path"):
                if row["problem"]:
                    problems.append(row["problem"])
                    continue
                run_dir = top / row["path"]
                found.append((run_dir, figures.from_index(row)))
                if report_rows:
                    flat.append({**json.loads(row["report_row"]), "run_dir": str(run_dir)})
        finally:
            con.close()
    return found, flat, problems
