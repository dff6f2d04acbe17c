"""Readers are bounded and safe (issue 28, classes 2 and 5), through the real `bench report` and `bench compare`.

A results tree holds one good record (captured, tests/data/records/offline.json) beside hostile ones: a FIFO named
result.json (no writer: reading it would block forever), a link to /dev/zero (endless), a record over the size limit,
and records of the wrong shape. Each is skipped at once with one line naming its file (and the field); the good one
is still reported. The commands run as subprocesses under a timeout, so a reader that blocks fails the test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench.record import codec
from tests.conftest import ROOT, TEST_DATA

GOOD = TEST_DATA / "records" / "offline.json"


def _record() -> dict:
    return json.loads(GOOD.read_text())


def _without_metric(r: dict) -> dict:
    r["performance"].pop("result_metric")
    return r


# name -> (how result.json is made, what its skip line says besides the file's path)
HOSTILE = {
    "fifo": (lambda p: os.mkfifo(p), "not a regular file (a FIFO)"),
    "dev-zero": (lambda p: p.symlink_to("/dev/zero"), "not a regular file (a character device)"),
    "too-large": (lambda p: _sparse(p, codec.MAX_BYTES + 1), "over the 16,777,216-byte limit"),
    "json-string": (lambda p: p.write_text('"a record"'), "not a bench result record"),
    "json-list": (lambda p: p.write_text(json.dumps([_record()])), "not a bench result record"),
    "no-result-metric": (lambda p: p.write_text(json.dumps(_without_metric(_record()))),
                         "lacks 'performance.result_metric'"),
    "performance-text": (lambda p: p.write_text(json.dumps({**_record(), "performance": "fast"})),
                         "'performance' is text ('fast'), expected an object or null"),
    "accuracy-list": (lambda p: p.write_text(json.dumps({**_record(), "accuracy": [1]})), "'accuracy' is a list"),
    "metric-unit": (lambda p: p.write_text(json.dumps(_with_unit(_record(), "furlongs"))),
                    "'performance.result_metric.unit' is text ('furlongs'), expected one of 'samples/s', 'ms'"),
}


def _with_unit(r: dict, unit: str) -> dict:
    r["performance"]["result_metric"]["unit"] = unit
    return r


def _sparse(path: Path, size: int) -> None:
    with open(path, "wb") as f:  # a hole: no disk used, but st_size says it all
        f.truncate(size)


def _bench(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "bench.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile") / "tree"
    (root / "good").mkdir(parents=True)
    shutil.copyfile(GOOD, root / "good" / "result.json")
    for name, (make, _) in HOSTILE.items():
        (root / name).mkdir()
        make(root / name / "result.json")
    return root


@pytest.mark.parametrize("command", ["report", "compare"])
def test_each_hostile_record_is_skipped_at_once_with_its_file_and_field(tree, tmp_path, command):
    args = [command, tree] + (["--out", tmp_path / "report"] if command == "report" else [])
    done = _bench(*args)  # a blocking read of the FIFO raises TimeoutExpired here
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "Error:" not in done.stderr
    skipped = [line for line in done.stderr.replace("\n ", " ").splitlines() if line.startswith("skipped:")]
    for name, (_, says) in HOSTILE.items():
        lines = [s for s in skipped if f"/{name}/result.json" in s]
        assert len(lines) == 1 and says in lines[0], (name, skipped)
    assert len(skipped) == len(HOSTILE)
    if command == "report":
        assert "1 runs from 1 systems" in done.stdout
        csv = pd.read_csv(tmp_path / "report" / "results.csv")
        assert list(csv["run_id"]) == [_record()["run_id"]]


def test_a_huge_number_reads_as_null_like_nan_and_infinity(tmp_path):
    text = GOOD.read_text()
    record = json.loads(text)
    sps, p50 = record["performance"]["samples_per_second"], record["performance"]["latency_ms"]["p50"]
    text = text.replace(f'"samples_per_second": {sps}', '"samples_per_second": 1e999', 1)
    text = text.replace(f'"p50": {p50}', '"p50": -1E400', 1)
    text = text.replace('"value": ', '"value": NaN, "was": ', 1)  # the literal an older writer left
    for run in ("a", "b"):
        (tmp_path / "tree" / run).mkdir(parents=True)
        (tmp_path / "tree" / run / "result.json").write_text(text.replace(record["run_id"], f"{record['run_id']}{run}"))
    done = _bench("report", tmp_path / "tree", "--out", tmp_path / "report")
    assert done.returncode == 0 and "skipped" not in done.stderr, done.stderr
    csv = pd.read_csv(tmp_path / "report" / "results.csv")
    assert csv["samples_per_second"].isna().all() and csv["latency_p50_ms"].isna().all()
    assert csv["metric_value"].isna().all()
    done = _bench("compare", tmp_path / "tree" / "a", tmp_path / "tree" / "b")
    assert done.returncode == 0, done.stderr
    # inf or nan as a figure, not inside a word ("server infer ms" is a row heading)
    assert not re.search(r"(?<![a-z])(inf|nan)(?![a-z])", done.stdout.lower()), done.stdout


def test_reader_refuses_before_reading(tmp_path):
    """The bounded read itself: the type and size come from the open file, so nothing is read from a refused one."""
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OSError, match="FIFO"):
        codec.read_bounded(tmp_path / "fifo")  # O_NONBLOCK: returns at once though no writer exists
    _sparse(tmp_path / "big", 10_000)
    with pytest.raises(OSError, match="over the 9,999-byte limit"):
        codec.read_bounded(tmp_path / "big", limit=9_999)
    (tmp_path / "ok").write_bytes(b"{}")
    assert codec.read_bounded(tmp_path / "ok", limit=2) == b"{}"


@pytest.mark.parametrize("name", ["fifo", "dev-zero", "too-large"])
def test_a_hostile_result_json_given_by_name_is_refused_by_name(tree, name):
    done = _bench("compare", tree / name / "result.json", tree / "good")
    assert done.returncode == 0, done.stderr
    (line,) = [s for s in done.stderr.replace("\n ", " ").splitlines() if s.startswith("skipped:")]
    assert f"/{name}/result.json" in line and HOSTILE[name][1] in line, line


def test_run_directory_inputs_beside_the_record_are_bounded_too(tmp_path):
    """bench submission and audit read a run's user.conf, detail log and accuracy.txt: a FIFO there is refused."""
    from bench.errors import UsageError
    from bench.record import accuracy, loadgen_log, snapshot

    for name in ("user.conf", "mlperf_log_detail.txt", "accuracy.txt"):
        os.mkfifo(tmp_path / name)
    record = {"snapshot": {"user_conf": {"file": "user.conf"}}}
    with pytest.raises(UsageError, match=r"user.conf: not a readable user.conf \(not a regular file \(a FIFO\)"):
        snapshot.user_conf(record, tmp_path)
    with pytest.raises(OSError, match="FIFO"):
        loadgen_log.read_detail(tmp_path / "mlperf_log_detail.txt")
    with pytest.raises(UsageError, match="accuracy.txt.*FIFO"):
        accuracy.read_accuracy_txt(tmp_path / "accuracy.txt")


def test_a_sweep_tree_with_a_fifo_is_read_without_waiting(tmp_path):
    """A sweep's end reads every landed run (version warnings): a FIFO for cell.json or result.json is passed over."""
    for run, fifo in (("r1", "cell.json"), ("r2", "result.json")):
        cell = tmp_path / "out" / "target" / "key" / run
        cell.mkdir(parents=True)
        shutil.copyfile(GOOD, cell / "result.json")
        (cell / "cell.json").write_text(json.dumps({"options_hash": "h", "software": {"bench_version": run}}))
        (cell / fifo).unlink()
        os.mkfifo(cell / fifo)
    code = ("import pathlib; from bench.sweep.tree import version_warnings; "
            f"print(version_warnings(pathlib.Path({str(tmp_path / 'out')!r})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr
