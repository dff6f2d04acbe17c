"""Readers are total, records are strict JSON, files respect the umask (issue 18).

A real run's record is copied and damaged in many ways; `bench report` and `bench compare` (the real CLI) skip
each damaged copy with one line naming its file and go on with the rest.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import stat
from pathlib import Path

import pytest

from bench.record import codec, results, schema

NULL_RUN = ["--backend", "null", "--count", "8", "--duration", "1"]

# How a record can be damaged: (name, change to the parsed record or raw bytes, what the skip line says).
DAMAGE = [
    ("list", lambda r: [r], "not a bench result record"),
    ("performance-list", lambda r: {**r, "performance": []}, "'performance' is a list"),
    ("scenario-number", lambda r: {**r, "config": {**r["config"], "scenario": 5}}, "'config.scenario'"),
    ("batch-text", lambda r: {**r, "config": {**r["config"], "batch_size": "8"}}, "'config.batch_size'"),
    ("latency-text", lambda r: {**r, "performance": {**r["performance"], "latency_ms": {"p50": "fast"}}},
     "latency_ms.p50"),
    ("gpus-text", lambda r: {**r, "system": {**r["system"], "gpus": "RTX"}}, "'system.gpus'"),
    ("reasons-numbers", lambda r: {**r, "performance": {**r["performance"], "invalid_reasons": [1]}},
     "invalid_reasons"),
    ("no-run-id", lambda r: {k: v for k, v in r.items() if k != "run_id"}, "run_id"),
    ("newer-schema", lambda r: {**r, "schema": 99}, "newer bench"),
    ("not-json", b"{\"schema\": 1, ", "not a readable result record"),
    ("not-utf8", b"\xff\xfe{}", "not a readable result record"),
    ("deep", b"[" * 100000 + b"]" * 100000, "not a readable result record"),
]


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    from click.testing import CliRunner

    from bench.cli import cli

    out = tmp_path_factory.mktemp("good") / "results"
    result = CliRunner().invoke(cli, ["run", *NULL_RUN, "--output", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (run,) = out.iterdir()
    return run


def _copy(good_run: Path, tree: Path, name: str, change) -> Path:
    run = tree / name
    shutil.copytree(good_run, run)
    path = run / "result.json"
    path.write_bytes(change if isinstance(change, bytes) else json.dumps(change(json.loads(path.read_text()))).encode())
    return path


def test_report_and_compare_skip_each_malformed_record_and_go_on(good_run, tmp_path, bench_cli):
    tree = tmp_path / "tree"
    shutil.copytree(good_run, tree / "good")
    damaged = {name: (_copy(good_run, tree, name, change), says) for name, change, says in DAMAGE}
    for command in (["report", tree, "--out", tmp_path / "report"], ["compare", tree, tree / "missing"]):
        result = bench_cli(*command)
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output
        skipped = [line for line in result.output.splitlines() if line.startswith("skipped:")]
        assert len(skipped) == len(DAMAGE) + (command[0] == "compare"), result.output  # + the missing path
        for name, (path, says) in damaged.items():
            (line,) = [s for s in skipped if f"/{name}/" in s]
            assert str(path) in line and says in line, line
    rows = (tmp_path / "report" / "results.csv").read_text().splitlines()
    assert len(rows) == 2  # header and the one good run


def test_control_characters_never_reach_the_terminal(good_run, tmp_path, bench_cli):
    hostile = "\x1b[2J\x1b]0;owned\x07evil\u202eeman\x9b31m"

    def poison(r):
        r = {**r, "system": {**r["system"], "system_name": hostile}, "config": {**r["config"], "backend": hostile}}
        return {**r, "error": hostile}

    _copy(good_run, tmp_path / "tree", "poisoned", poison)
    _copy(good_run, tmp_path / "tree", "list", lambda r: [hostile])  # a skip line names the file: no escapes either
    (tmp_path / "tree" / f"bad{hostile}").mkdir()
    (tmp_path / "tree" / f"bad{hostile}" / "result.json").write_text("{")
    for command in (["compare", tmp_path / "tree"], ["report", tmp_path / "tree", "--out", tmp_path / "r"]):
        result = bench_cli(*command)
        assert result.exit_code == 0, result.output
        assert not codec.CONTROL.search(result.output.replace("\n", "")), repr(result.output)
        assert "evil" in result.output or command[0] == "report"


def test_result_json_round_trip_is_strict_json(tmp_path):
    record = results.new_record("r1", {"scenario": "offline", "batch_size": 8, "backend": "null"})
    # Typed since the record is declared (bench/record/schema.py); the same non-finite values as the dict had.
    record.performance = schema.Performance(samples_per_second=math.inf, valid=True,
                                            latency_ms=schema.Latency(p50=math.nan, p99=1.5),
                                            result_metric=schema.Metric(name="x", value=-math.inf))
    record.timing = schema.Timing(load_s=0.25)
    path = results.write(tmp_path, record)

    def refuse(name):
        raise AssertionError(f"{name} in result.json: strict JSON readers reject it")

    strict = json.loads(path.read_text(), parse_constant=refuse)
    assert strict["performance"]["samples_per_second"] is None and strict["performance"]["latency_ms"]["p99"] == 1.5
    assert strict["nonfinite"] == ["performance.latency_ms.p50", "performance.result_metric.value",
                                   "performance.samples_per_second"]
    loaded = results.load(tmp_path)
    assert loaded == {**strict}  # the reader returns what the writer wrote
    assert results.load(results.write(tmp_path, loaded).parent) == loaded  # and rewriting it changes nothing


def test_result_files_respect_the_umask(tmp_path, bench_cli):
    old = os.umask(0o022)
    try:
        assert bench_cli("run", *NULL_RUN, "--output", tmp_path / "results").exit_code == 0
    finally:
        os.umask(old)
    (run,) = (tmp_path / "results").iterdir()
    for name in ("result.json", "latencies.npy"):
        assert stat.S_IMODE((run / name).stat().st_mode) == 0o644, name
