"""Records for `bench compare --index`: each tree's index rows as the part of a record the verdicts read."""

from __future__ import annotations

from pathlib import Path

from bench.index import store
from bench.stats import figures


def load(paths, console=None) -> tuple[list[tuple[Path, dict]], list[str]]:
    """(run_dir, partial record) for every readable run in each tree's index (refreshed first), and the problems
    the index holds for unreadable files, as results.load_records returns them."""
    found, problems = [], []
    for root in map(Path, paths):
        con = store.open_index(root, console)
        try:
            for row in store.query(con, "SELECT * FROM runs ORDER BY path"):
                if row["problem"]:
                    problems.append(row["problem"])
                else:
                    found.append((root.resolve() / row["path"], figures.from_index(row)))
        finally:
            con.close()
    return found, problems
