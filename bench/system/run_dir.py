"""A run directory's layout, in one place: where LoadGen writes its logs under a run (and an audit's run), by the
file names MLPerf's checkers read. Every module that writes or reads those files asks here."""

from __future__ import annotations

from pathlib import Path

DETAIL = "mlperf_log_detail.txt"  # LoadGen's verdict and figures (bench reads it, never recomputes)
SUMMARY = "mlperf_log_summary.txt"
ACCURACY = "mlperf_log_accuracy.json"  # the responses an accuracy run logged
PERFORMANCE_FILES = (SUMMARY, DETAIL)  # what a submission keeps of a performance run
ACCURACY_FILES = (ACCURACY, SUMMARY, DETAIL)  # ... and of an accuracy run


def loadgen_dir(run_dir: str | Path, mode: str = "performance") -> Path:
    """LoadGen's output folder for one mode (performance or accuracy) of a run."""
    return Path(run_dir) / "loadgen" / mode


def detail_log(run_dir: str | Path) -> Path:
    return loadgen_dir(run_dir) / DETAIL


def accuracy_log(run_dir: str | Path) -> Path:
    return loadgen_dir(run_dir, "accuracy") / ACCURACY


def audit_run_dir(run_dir: str | Path, test: str) -> Path:
    """Where `bench audit` runs one compliance test (TEST01, TEST04...) inside a run."""
    return Path(run_dir) / "audit" / test
