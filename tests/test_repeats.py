"""bench run --repeat / --until-stable (real null-backend runs), and bench compare's verdicts and accuracy gate."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.stats import figures
from tests.stats_helpers import NULL_RUN, clone, load, real_record


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    """Verdicts are table cells: on an 80-column terminal a long one folds over lines, which the asserts read whole."""
    import bench.cli

    monkeypatch.setattr(bench.cli.out, "width", 200)


def _runs(root):
    return sorted((load(p) for p in root.glob("*/result.json")), key=lambda r: r["repeat"]["index"])


def test_repeat_writes_complete_records_and_a_summary(bench_cli, results_dir):
    result = bench_cli("run", *NULL_RUN, "--output", results_dir, "--repeat", "3")
    assert result.exit_code == 0, result.output
    runs = _runs(results_dir)
    assert [r["repeat"]["index"] for r in runs] == [1, 2, 3] and {r["repeat"]["of"] for r in runs} == {3}
    assert all(r["status"] == "complete" and r["performance"]["result_metric"]["value"] > 0 for r in runs)
    cid = runs[0]["repeat"]["config_id"]
    assert {r["repeat"]["config_id"] for r in runs} == {cid} == {figures.config_id(r["config"]) for r in runs}
    [path] = results_dir.glob(f"{cid}-*.summary.json")
    summary = json.loads(path.read_text())
    assert summary["kind"] == "bench-repeat-summary" and summary["stopped"] == "complete"
    assert [r["run_id"] for r in summary["runs"]] == [r["run_id"] for r in runs]
    metric = summary["figures"]["metric"]
    assert metric["n"] == 3 and metric["values"] == [r["performance"]["result_metric"]["value"] for r in runs]
    assert metric["kind"] == "percentile" and metric["ci_method"].startswith("order-statistic")  # a latency
    assert summary["figures"]["samples_per_second"]["ci_method"].startswith("Student t")
    assert summary["startup"]["warmup_s"]["n"] == 3 and summary["startup"]["load_s"]["mean"] >= 0
    assert "configuration " + cid in result.output and "summary:" in result.output and "start-up per run" in result.output
    # the cost of getting there, per run: never inside the measured figures, each part of what it belongs to
    for r in runs:
        timing = r["timing"]
        assert 0 < timing["first_call_s"] <= timing["warmup_s"] and timing.get("compile_s") is None  # null: none
    assert summary["startup"]["first_call_s"]["n"] == 3 and "first call" in result.output


def test_start_up_costs_are_report_and_compare_columns(bench_cli, template, tmp_path, monkeypatch):
    from bench.run.warmup import compile_seconds

    # what each backend's describe() names its compile or engine build (openvino, torch-compile; tensorrt)
    assert compile_seconds({"compile_s": 2.5}) == 2.5 and compile_seconds({"engine_build_s": 0.0}) == 0.0
    assert compile_seconds({"name": "null"}) is None and compile_seconds(None) is None
    monkeypatch.setenv("COLUMNS", "250")
    slow = json.loads(json.dumps(template))
    slow["timing"]["compile_s"] = 40.0  # a torch-compile-like start-up
    a = clone(template, tmp_path / "a", "fast-start", 0.2)
    b = clone(slow, tmp_path / "b", "slow-start", 0.2, config={"batch_size": 2})
    assert bench_cli("report", a, b, "--out", tmp_path / "report").exit_code == 0
    csv = (tmp_path / "report" / "results.csv").read_text()
    assert "load_s,compile_s,warmup_s,first_call_s" in csv.splitlines()[0]
    page = (tmp_path / "report" / "index.html").read_text()
    assert "load s" in page and "compile s" in page and "warm-up s" in page  # first call s: results.csv, compare
    result = bench_cli("compare", a, b)
    assert result.exit_code == 0, result.output
    [row] = [line for line in result.output.splitlines() if "compile s" in line]
    assert "40.000" in row and "—" in row  # the null run reports none; never a ratio against nothing


def test_until_stable_converges_or_says_unstable(bench_cli, tmp_path):
    loose = tmp_path / "loose"
    result = bench_cli("run", *NULL_RUN, "--output", loose, "--until-stable", "99", "--max-repeats", "5")
    assert result.exit_code == 0, result.output
    [summary] = [json.loads(p.read_text()) for p in loose.glob("*.summary.json")]
    # null-backend runs agree within 99% at once: converged after the 3-run window
    assert summary["stopped"] == "converged after 3 runs" and summary["stability"]["stable"] is True
    assert len(summary["runs"]) == 3 and not summary["unstable"]
    tight = tmp_path / "tight"
    result = bench_cli("run", *NULL_RUN, "--output", tight, "--until-stable", "0.0001", "--max-repeats", "3")
    assert result.exit_code == 0, result.output
    [summary] = [json.loads(p.read_text()) for p in tight.glob("*.summary.json")]
    assert summary["stopped"] == "not converged in 3 runs" and summary["unstable"] is True
    assert summary["figures"]["metric"]["ci95"] is None  # never averaged into a confident figure
    assert "unstable" in result.output


@pytest.mark.parametrize("args, words", [
    (["--repeat", "2", "--until-stable", "5"], "two stopping rules"),
    (["--max-repeats", "4"], "--max-repeats bounds --until-stable"),
    (["--until-stable", "5", "--max-repeats", "2"], "at least 3"),
])
def test_contradicting_repeat_options_stop_before_running(bench_cli, results_dir, args, words):
    result = bench_cli("run", *NULL_RUN, "--output", results_dir, *args)
    assert result.exit_code == 2 and words in result.output
    assert not list(results_dir.glob("*/result.json"))


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return real_record(tmp_path_factory.mktemp("template"))


def _two_configs(template, root, shift, n=5, seed=0, cv=0.03):
    rng = np.random.default_rng(seed)
    a, b = root / "a", root / "b"
    for i in range(n):
        clone(template, a, f"a{i}", 0.2 * rng.lognormal(0, cv), series="sa", index=i + 1, of=n)
        clone(template, b, f"b{i}", shift * 0.2 * rng.lognormal(0, cv), series="sb", index=i + 1, of=n,
              config={"batch_size": 2})
    return a, b


def test_compare_calls_a_25_percent_slowdown_slower(bench_cli, template, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    a, b = _two_configs(template, tmp_path, 1.25)  # latency 25% higher: slower
    result = bench_cli("compare", a, b)
    assert result.exit_code == 0, result.output
    assert "slower" in result.output and "5/5" in result.output and "×1.2" in result.output
    same_a, same_b = _two_configs(template, tmp_path / "same", 1.0)
    result = bench_cli("compare", same_a, same_b)
    assert "not distinguishable from noise at 5 runs" in result.output and "slower" not in result.output


def test_records_without_repeats_compare_as_single_run(bench_cli, template, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    clone(template, tmp_path / "x", "old-a", 0.2)
    clone(template, tmp_path / "y", "old-b", 0.3, config={"batch_size": 2})
    result = bench_cli("compare", tmp_path / "x", tmp_path / "y")
    assert result.exit_code == 0, result.output
    assert "single-run" in result.output and "1/1" in result.output and "faster" not in result.output


def test_require_accuracy_refuses_ungated_and_names_the_gate(bench_cli, template, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    a, b = _two_configs(template, tmp_path, 1.25, n=3)
    result = bench_cli("compare", "--require-accuracy", a, b)
    assert result.exit_code == 2 and "--require-accuracy: no passing accuracy run" in result.output
    assert "bench verdicts" not in result.output and "slower" not in result.output  # nothing ranked
    passing = {"top1": 0.76, "verdict": "PASS", "passed": True, "synthetic": False, "count": 50000}
    failing = {**passing, "verdict": "FAIL", "passed": False}
    acc = tmp_path / "acc"
    clone(template, acc, "acc-pass", 0.2, config={"mode": "accuracy"}, accuracy=passing)
    clone(template, acc, "acc-fail", 0.2, config={"mode": "accuracy", "precision": "bf16"}, accuracy=failing)
    result = bench_cli("compare", "--require-accuracy", a, b, acc)
    assert result.exit_code == 0, result.output
    assert "accuracy gate: acc-pass PASS" in result.output and "slower" in result.output
    # a FAIL of another precision gates nothing, and says which record it saw
    bf16 = tmp_path / "bf16"
    clone(template, bf16, "perf-bf16", 0.2, config={"precision": "bf16"}, series="s16")
    result = bench_cli("compare", a, bf16, acc)
    assert "accuracy gate: none passed (acc-fail FAIL)" in result.output


def test_report_draws_every_run_and_the_verdicts(bench_cli, template, tmp_path):
    a, b = _two_configs(template, tmp_path / "runs", 1.25)
    clone(template, tmp_path / "runs" / "old", "old-single", 0.2, config={"batch_size": 3})
    result = bench_cli("report", tmp_path / "runs", "--out", tmp_path / "report")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report" / "index.html").read_text()
    section = page[page.index("<h2>Repeated runs</h2>"):]
    assert 'id="repeats-single-stream"' in section and "boxpoints" in section  # every run drawn
    assert "error_y" in section and "slower" in section and "single-run" in section
    assert "not gated" in section and "5 runs" in section
    # every figure says how many runs stand behind it and which accuracy record gates it
    assert "old-single (single-run)" in section and "accuracy gate A" in section
    summary = page[page.index('id="summary"'):page.index("</table>", page.index('id="summary"'))]
    assert "runs of its configuration" in summary and "1 (single-run)" in summary and "no accuracy run" in summary
    csv = (tmp_path / "report" / "results.csv").read_text().splitlines()
    assert csv[0].endswith("config_runs,accuracy_gate") and sum(",1,no accuracy run" in line for line in csv) == 1
    from tests.test_report import CHROMIUM, chromium

    if CHROMIUM is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install -y chromium): the page's HTML is "
                    "checked above, its drawing is not")
    dom = chromium((tmp_path / "report" / "index.html").resolve().as_uri(), tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    start = dom.stdout.index('id="repeats-single-stream"')
    assert '<svg class="main-svg"' in dom.stdout[start:start + 20000]
    assert "old-single (single-run)" in dom.stdout[start:start + 40000]  # the strip plot's axis, as drawn
    assert "1 (single-run)" in dom.stdout and "no accuracy run" in dom.stdout


def test_compare_through_the_index_gives_the_same_verdicts(bench_cli, template, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    a, b = _two_configs(template, tmp_path, 1.25)
    single = tmp_path / "single"
    clone(template, single, "old-single", 0.2, config={"batch_size": 3})
    acc = tmp_path / "acc"
    clone(template, acc, "acc-pass", 0.2, config={"mode": "accuracy"},
          accuracy={"top1": 0.76, "verdict": "PASS", "passed": True, "synthetic": False, "count": 50000})

    def verdict_lines(output):
        lines = output.splitlines()
        start = next(i for i, line in enumerate(lines) if "verdicts" in line)
        return [line for line in lines[start:] if "│" in line or "accuracy gate" in line]

    files = bench_cli("compare", a, b, single, acc)
    indexed = bench_cli("compare", "--index", a, b, single, acc)
    assert files.exit_code == indexed.exit_code == 0, indexed.output
    assert verdict_lines(indexed.output) == verdict_lines(files.output)
    assert "slower" in indexed.output and "single-run" in indexed.output and "acc-pass PASS" in indexed.output
    assert "index" in indexed.output and (a / ".bench-index.sqlite").exists()
    refused = bench_cli("compare", "--index", "--require-accuracy", a, single)
    assert refused.exit_code == 2 and "--require-accuracy" in refused.output
    refused = bench_cli("compare", "--index", "--by", "backend", a)
    assert refused.exit_code == 2 and "drop one of them" in refused.output
