"""The statistics benchmarks run at their smallest size and print figures that add up (a smoke run, not a timing)."""

from __future__ import annotations

import importlib.util

from tests.conftest import ROOT


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stats_verdicts_smallest(capsys):
    figures = _script("stats_verdicts").main(["--smallest"])
    assert figures["reps"] == 2 and 0 <= figures["false_positives"] <= 2
    assert 0 <= figures["slowed_called_slower"] <= 2 and "false-positive rate" in capsys.readouterr().out


def test_index_scale_smallest(capsys):
    figures = _script("index_scale").main(["--smallest"])  # asserts the index gives the files' figures
    assert figures["records"] == 200 and figures["index_rebuild_s"] > 0 and figures["build_peak_mb_full"] > 0
    assert figures["report_index_s"] > 0 and figures["report_files_s"] > 0
    assert "refresh + query" in capsys.readouterr().out
