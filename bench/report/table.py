"""Result records as one flat pandas DataFrame: a row per run, every column a scalar (what results.csv holds)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.record import results
from bench.report import columns

PERCENTILES = columns.PERCENTILES
# The summary table's columns: DataFrame column -> heading (declared in bench/report/columns.py).
SUMMARY = {c.name: c.heading for c in columns.SUMMARY}


def load_runs(paths) -> tuple[list[tuple[Path, dict]], list[str]]:
    """(run_dir, record) for every run found under `paths`, and one line per record that could not be read.

    The records' text as written: a CSV field carries a newline or a tab (a system name holding one round-trips
    into results.csv); the page and the terminal take control characters out where they show text."""
    return results.load_records(paths, check=row, clean=False)  # issue 18: a record row() cannot read is skipped


def row(run_dir: Path, record: dict) -> dict:
    """One run as flat columns (all scalars): what the CSV and the page show, one per declared column."""
    flat = {c.name: c.value(record, run_dir) for c in columns.COLUMNS}
    flat["label"] = label(flat, results.input_location(record))  # made of the columns above and where the input lived
    return flat


def label(r: dict, input_location: str = "host") -> str:
    """How a run is named in charts: unmistakably marked when INVALID, synthetic or fed from device memory."""
    marks = [m for m, on in (("INVALID", r["validity"] == "INVALID"), ("synthetic", r["synthetic"]),
                             ("input on device", input_location == "device"),
                             (str(r["status"]), r["status"] != "complete")) if on]
    return (f"{r['system']} · {r['backend']} {r['precision']} · {r['scenario']} · {r['run_id'][-4:]}"
            + (f" [{', '.join(marks)}]" if marks else ""))


def frame(runs: list[tuple[Path, dict]]) -> pd.DataFrame:
    return frame_of([row(d, r) for d, r in runs])


def frame_of(rows: list[dict]) -> pd.DataFrame:
    """The report's frame of flat rows (row()'s, or the results index's copies of them)."""
    df = pd.DataFrame(rows, columns=[*(c.name for c in columns.COLUMNS), "label"])
    if len(df):
        df = df.sort_values(["scenario", "system", "backend", "precision", "started_at"], na_position="last",
                            kind="stable").reset_index(drop=True)
    return df
