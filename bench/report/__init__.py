"""Reports over many runs: records to a DataFrame (table), charts, and the page with results.csv (page)."""

from bench.report.page import page, write
from bench.report.table import frame, load_runs, row

__all__ = ["frame", "load_runs", "page", "row", "write"]
