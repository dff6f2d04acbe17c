"""The results index: built from the files, updated incrementally, rebuilt when corrupt, consistent under concurrent
`bench run` processes; `bench history` flags a regression in the terminal and the HTML chart."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
import time

import pytest
from rich.console import Console

from bench.index import store
from bench.stats import figures
from tests.conftest import ROOT
from tests.stats_helpers import NULL_RUN, clone, load, real_record


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return real_record(tmp_path_factory.mktemp("template"))


def _rows(con):
    return {r["run_id"]: r for r in store.query(con, "SELECT * FROM runs")}


def test_index_follows_the_files(template, tmp_path):
    for i in range(4):
        clone(template, tmp_path, f"r{i}", 0.2 + i / 100, series="s", index=i + 1, of=4)
    console = Console(file=io.StringIO())
    con = store.open_index(tmp_path, console)
    assert "missing: building it" in console.file.getvalue()
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    rows = _rows(con)
    assert sorted(rows) == ["r0", "r1", "r2", "r3"] and rows["r2"]["metric"] == pytest.approx(0.22)
    assert rows["r0"]["config_id"] == figures.config_id(template["config"]) and rows["r0"]["repeat_index"] == 1
    assert store.refresh(con, tmp_path) == {"read": 0, "removed": 0, "unchanged": 4}  # nothing changed: nothing read
    # a changed file is re-read, a removed one dropped, an unreadable one kept with its problem
    record = load(tmp_path / "r1" / "result.json")
    record["performance"]["result_metric"]["value"] = 0.5
    from bench.record import results

    results.write(tmp_path / "r1", record)
    import shutil

    shutil.rmtree(tmp_path / "r3")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "result.json").write_text("{not json")
    assert store.refresh(con, tmp_path) == {"read": 2, "removed": 1, "unchanged": 2}
    rows = _rows(con)
    assert rows["r1"]["metric"] == 0.5 and "r3" not in rows
    [bad] = store.query(con, "SELECT problem FROM runs WHERE run_id IS NULL")
    assert "not a readable result record" in bad["problem"]
    con.close()


def test_a_corrupt_index_is_rebuilt_with_a_notice(template, tmp_path):
    clone(template, tmp_path, "only", 0.2)
    store.path_for(tmp_path).write_bytes(b"this is not an SQLite database" * 100)
    console = Console(file=io.StringIO(), width=400)
    con = store.open_index(tmp_path, console)
    notice = console.file.getvalue().strip()
    assert notice.count("\n") == 0 and "unreadable" in notice and "rebuilt from the result.json files" in notice
    assert list(_rows(con)) == ["only"]
    con.close()


def test_concurrent_runs_keep_the_index_consistent(template, tmp_path):
    """Three real `bench run --repeat 2` processes write into one tree while this process refreshes the index."""
    clone(template, tmp_path, "before", 0.2)
    store.open_index(tmp_path).close()  # the tree has an index: each run upserts its row
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-m", "bench.cli", "run", *NULL_RUN, "--threads", str(t),
                               "--output", str(tmp_path), "--repeat", "2"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for t in (1, 2, 1)]
    deadline = time.monotonic() + 240
    refreshes = 0
    while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
        con = store.open_index(tmp_path)  # a reader, meanwhile: WAL lets it read while runs write
        con.close()
        refreshes += 1
        time.sleep(0.2)
    for p in procs:
        assert p.wait(timeout=max(1, deadline - time.monotonic())) == 0, p.stderr.read()
    con = sqlite3.connect(store.path_for(tmp_path))
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    indexed = dict(con.execute("SELECT run_id, status FROM runs"))
    on_disk = {load(p)["run_id"]: load(p)["status"] for p in tmp_path.glob("*/result.json")}
    assert len(on_disk) == 7 and indexed == on_disk  # every run, as its file says, with no reader refresh after
    assert set(on_disk.values()) == {"complete"} and refreshes >= 1
    con.close()


def test_history_flags_a_regression(bench_cli, template, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    values = [0.200, 0.203, 0.198, 0.201, 0.199, 0.202, 0.260]  # a latency: the last run is 30% worse
    for i, v in enumerate(values):
        newer = {"bench": "0.2.0"} if i == len(values) - 1 else None
        clone(template, tmp_path, f"h{i}", v, series="s", index=i + 1, of=len(values),
              started_at=f"2026-12-0{i + 1}T10:00:00+00:00", packages=newer)
    cid = load(tmp_path / "h0" / "result.json")["repeat"]["config_id"]
    chart = tmp_path / "history.html"
    result = bench_cli("history", tmp_path, "--config", cid[:6], "--html", chart)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "│ 2026-12-0" in line]
    assert len(lines) == 7 and "regression" in lines[-1] and not any("regression" in x for x in lines[:-1])
    assert "bench 0.2.0" in lines[-1] and "bench 0.1.0" in lines[0]
    page = chart.read_text()
    assert "Plotly.newPlot" in page and "h6" in page and "outside the interval" in page and "<script src" not in page
    result = bench_cli("history", tmp_path, "--config", "ffffffffffff")
    assert result.exit_code == 2 and "no complete run" in result.output


def test_a_run_upserts_its_row_without_a_reader(bench_cli, tmp_path):
    tmp_path.mkdir(exist_ok=True)
    store.open_index(tmp_path).close()  # an empty tree's index
    result = bench_cli("run", *NULL_RUN, "--output", tmp_path)
    assert result.exit_code == 0, result.output
    [path] = tmp_path.glob("*/result.json")
    con = sqlite3.connect(store.path_for(tmp_path))  # read as it is: no refresh from the files
    assert con.execute("SELECT run_id, status FROM runs").fetchall() == [(load(path)["run_id"], "complete")]
    con.close()
    # without an index, a run leaves none behind (the first reader builds it)
    other = tmp_path / "other"
    assert bench_cli("run", *NULL_RUN, "--output", other).exit_code == 0
    assert not store.path_for(other).exists()


def test_report_through_the_index_writes_what_reading_every_file_writes(bench_cli, template, tmp_path):
    tree = tmp_path / "tree"
    for i in range(3):
        clone(template, tree, f"p{i}", 0.2 + i / 100, series="s", index=i + 1, of=3)
    record = load(tree / "p1" / "result.json")
    record["system"]["system_name"] = "tab\there"  # text as recorded in results.csv; the page takes it out
    from bench.record import results

    results.write(tree / "p1", record)
    (tree / "bad").mkdir()
    (tree / "bad" / "result.json").write_text("{not json")
    by_files = bench_cli("report", tree, "--out", tmp_path / "files")
    by_index = bench_cli("report", tree, "--out", tmp_path / "index", "--index")
    assert by_files.exit_code == 0 and by_index.exit_code == 0, by_index.output
    assert "missing: building it" in by_index.output and "skipped:" in by_index.output
    csv = (tmp_path / "index" / "results.csv").read_text()
    assert csv == (tmp_path / "files" / "results.csv").read_text() and "tab\there" in csv
    page = (tmp_path / "index" / "index.html").read_text()
    assert "Repeated runs" in page and "p2" in page and "tabhere" in page and "tab\there" not in page
    assert str(template["system"]["cpu"]) in page  # the Systems section: one file read per system
    # a record changed since: the index refreshes from the files before the report reads it
    record["performance"]["result_metric"]["value"] = 0.9
    results.write(tree / "p1", record)
    assert bench_cli("report", tree, "--out", tmp_path / "again", "--index").exit_code == 0
    assert "0.9" in (tmp_path / "again" / "results.csv").read_text()
