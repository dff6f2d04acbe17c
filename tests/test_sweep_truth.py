"""bench sweep tells the truth: the examples run as docs/sweep.md says, --resume counts a cell done only when its
record reads whole, and progress says what the sweep settled on (a run that could not land failed, and why)."""

from __future__ import annotations

import errno
import json
import tarfile
from pathlib import Path

from tests.conftest import ROOT
from tests.test_sweep_plan import NULL, run_dirs, write


def _log(output: Path) -> dict:
    logs = sorted(output.glob("sweep-*.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(logs[-1].read_text())


def test_the_smoke_plan_runs_here_as_it_is_and_resume_rereads_each_record(bench_cli, tmp_path):
    output = tmp_path / "out"
    result = bench_cli("sweep", ROOT / "examples" / "sweep-null.toml", "--output", output)
    assert result.exit_code == 0, result.output
    cells = _log(output)["cells"]
    assert len(cells) == 4 and {c["status"] for c in cells} == {"complete"}, cells
    assert "-> None" not in result.output and "4 complete" in result.output

    # A record cut short (a copy interrupted, a disk that filled) is not a finished cell: --resume runs it again.
    cut = run_dirs(output)[0] / "result.json"
    cut.write_bytes(cut.read_bytes()[: len(cut.read_bytes()) // 2])
    result = bench_cli("sweep", ROOT / "examples" / "sweep-null.toml", "--output", output, "--resume")
    assert result.exit_code == 0, result.output
    statuses = sorted(c["status"] for c in _log(output)["cells"])
    assert statuses == ["complete", "resumed", "resumed", "resumed"], statuses
    rerun = next(c for c in _log(output)["cells"] if c["status"] == "complete")
    assert (output / rerun["path"]).parent == cut.parent.parent  # the cut-short cell, run again beside it


def test_the_cluster_plan_says_it_needs_ray(bench_cli, tmp_path):
    plan = ROOT / "examples" / "sweep.toml"
    assert "--ray" in plan.read_text().split("[defaults]")[0]  # said before anything else in the file
    result = bench_cli("sweep", plan, "--output", tmp_path / "out")
    assert result.exit_code == 1
    cells = _log(tmp_path / "out")["cells"]
    assert all(c["status"] in ("unplaceable", "skipped") for c in cells)
    assert all("--ray" in c["reason"] for c in cells if c["status"] == "unplaceable")
    assert run_dirs(tmp_path / "out") == []


def test_a_run_that_cannot_land_is_shown_failed_with_its_reason(bench_cli, tmp_path, monkeypatch):
    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tarfile.TarFile, "extractall", full)  # the disk fills as the finished run lands
    plan = write(tmp_path, NULL + '[matrix]\nscenario = ["offline"]\n')
    output = tmp_path / "out"
    result = bench_cli("sweep", plan, "--output", output)
    assert result.exit_code == 1, result.output
    events = [line for line in result.output.splitlines() if line.split()[:1] in (["complete"], ["failed"])]
    assert len(events) == 1 and events[0].startswith("failed") and "No space left on device" in events[0], events
    assert "-> None" not in result.output
    (cell,) = _log(output)["cells"]
    assert cell["status"] == "failed" and "No space left on device" in cell["reason"] and cell["path"] is None
    assert run_dirs(output) == [] and not list(output.glob("*/*/.landing-*"))


def test_a_fault_of_the_sweep_itself_ends_its_log(bench_cli, tmp_path, monkeypatch):
    """Whatever stops the sweep, its log does not stay `running`."""
    from bench.sweep import local

    def broken(*_args, **_kwargs):
        raise OSError(errno.EIO, "Input/output error", str(tmp_path / "out"))

    monkeypatch.setattr(local, "execute", broken)
    plan = write(tmp_path, NULL + '[matrix]\nscenario = ["offline"]\n')
    result = bench_cli("sweep", plan, "--output", tmp_path / "out")
    assert result.exit_code != 0 and "Input/output error" in result.output
    assert _log(tmp_path / "out")["status"] == "failed"
