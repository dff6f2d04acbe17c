"""`bench audit`: TEST01 passes for torch and onnxruntime on real images; the verifiers judge as the official
compliance scripts do (a tampered answer fails TEST01); TEST04 writes the submission's compliance folders;
TEST05, retired from MLPerf, is refused; a stray ./audit.config never changes a `bench run`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from bench.mlperf import audit
from tests.conftest import FAST_RUN, TEST_DATA

IMAGES = TEST_DATA / "imagenet"  # bundled, so the suite runs from a fresh clone
needs_images = pytest.mark.skipif(not (IMAGES / "val_map.txt").exists(), reason=f"no test images at {IMAGES}")


def _record(results) -> dict:
    (found,) = list(results.glob("*/result.json"))
    return json.loads(found.read_text())


def _rule_holds(report: str, test: str) -> bool:
    """The verdict a verify_performance.txt states, recomputed from the scores it prints (an INVALID run, such as
    a 1 s TEST04 that one cached sample makes finish early, fails before any score is compared)."""
    if "results are invalid" in report:
        return report.strip().endswith("results are invalid") and "TEST FAIL" in report
    ref = float(re.search(r"reference score = (\S+)", report).group(1))
    new = float(re.search(r"test score = (\S+)", report).group(1))
    threshold = float(re.search(r"threshold = (\d+)%", report).group(1)) / 100
    expected = {"TEST01": ref * (1 - threshold) <= new <= ref * (1 + threshold),
                "TEST04": new < ref * (1 + threshold)}[test]
    return ("TEST PASS" in report) == expected


@needs_images
@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_test01_answers_match_between_accuracy_and_performance_runs(bench_cli, results_dir, backend):
    result = bench_cli("audit", "TEST01", "--backend", backend, *FAST_RUN, "--dataset", IMAGES,
                       "--output", results_dir)
    assert result.exit_code in (0, 3), result.output  # 3: a performance score outside +-10% on a busy machine
    record = _record(results_dir)
    run_dir = results_dir / record["run_id"]
    checks = record["audit"]["TEST01"]["checks"]
    assert checks["accuracy"]["passed"], checks["accuracy"]["report"]
    matched = int(re.search(r"num_perf_log_qsl_idx_match = (\d+)", checks["accuracy"]["report"]).group(1))
    assert matched > 0
    assert _rule_holds(checks["performance"]["report"], "TEST01")
    assert (result.exit_code == 0) == record["audit"]["TEST01"]["passed"]
    # The compliance folder as compliance/TEST01/run_verification.py leaves it.
    comp = run_dir / "compliance" / "TEST01"
    for name in ("verify_accuracy.txt", "verify_performance.txt", "accuracy/mlperf_log_accuracy.json",
                 "performance/run_1/mlperf_log_summary.txt", "performance/run_1/mlperf_log_detail.txt"):
        assert (comp / name).is_file(), name
    assert "TEST PASS" in (comp / "verify_accuracy.txt").read_text()
    # The reference runs are an ordinary record: performance and accuracy on the real images.
    assert record["performance"]["valid"] and record["accuracy"]["count"] == 16


def test_test01_catches_an_answer_that_differs(tmp_path):
    """A SUT that answers differently in performance mode (caching, skipped work) fails TEST01."""
    entry = lambda idx, cls: {"seq_id": idx, "qsl_idx": idx, "data": audit.np.float32(cls).tobytes().hex()}  # noqa
    reference, honest, cheat = tmp_path / "acc.json", tmp_path / "perf.json", tmp_path / "cheat.json"
    reference.write_text(json.dumps([entry(i, i * 7 % 1000) for i in range(16)]))
    honest.write_text(json.dumps([entry(i, i * 7 % 1000) for i in (3, 5, 11)]))
    cheat.write_text(json.dumps([entry(3, 21), entry(5, 0), entry(11, 77)]))
    passed, text = audit.verify_accuracy(reference, honest)
    assert passed and "num_perf_log_data_mismatch = 0" in text and text.strip().endswith("TEST PASS")
    passed, text = audit.verify_accuracy(reference, cheat)
    assert not passed and "num_perf_log_data_mismatch = 1" in text and text.strip().endswith("TEST FAIL")


def test_test04_writes_compliance_and_judges_by_the_rule(bench_cli, results_dir):
    result = bench_cli("audit", "TEST04", "--backend", "torch", *FAST_RUN, "--output", results_dir)
    assert result.exit_code in (0, 3), result.output
    record = _record(results_dir)
    run_dir = results_dir / record["run_id"]
    report = (run_dir / "compliance" / "TEST04" / "verify_performance.txt").read_text()
    assert _rule_holds(report, "TEST04"), report
    assert record["audit"]["TEST04"]["passed"] == ("TEST PASS" in report)
    # LoadGen read the official settings from the audit.config bench wrote, and issued one sample again and again.
    assert (run_dir / "audit" / "TEST04" / "audit.config").read_text().splitlines() == audit.AUDITS["TEST04"]
    detail = (run_dir / "compliance" / "TEST04" / "performance" / "run_1" / "mlperf_log_detail.txt").read_text()
    assert '"key": "effective_performance_issue_same", "value": true' in detail
    assert (result.exit_code == 0) == record["audit"]["TEST04"]["passed"]


def test_test05_is_retired(bench_cli):
    result = bench_cli("audit", "TEST05", "--backend", "null")
    assert result.exit_code == 2 and "TEST05" in result.output


def test_a_stray_audit_config_leaves_a_run_untouched(tmp_path):
    """TEST04's audit.config (its official per-scenario form) in the working directory: `bench run` there is an
    ordinary run, since LoadGen is handed a path of its own instead of reading ./audit.config."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    lines = ["# compliance/TEST04/audit.config"] + [
        f"*.{scenario}.{line[4:]}" for scenario in ("SingleStream", "MultiStream", "Offline", "Server")
        for line in audit.AUDITS["TEST04"]]
    (workdir / "audit.config").write_text("\n".join(lines) + "\n")
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-c", "from bench.cli import main; main()", "run", "--backend", "null",
                           "--scenario", "offline", "--count", "16", "--duration", "1", "--output", str(out)],
                          cwd=workdir, capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (found,) = list(out.glob("*/result.json"))
    record = json.loads(found.read_text())
    detail = (found.parent / "loadgen" / "performance" / "mlperf_log_detail.txt").read_text()
    assert '"key": "effective_performance_issue_same", "value": false' in detail
    assert "audit.config" not in detail  # LoadGen's "Found Audit Config file" warning
    assert record["performance"]["warnings"] == [] and record["performance"]["valid"]


def test_unknown_audit_is_a_usage_error(bench_cli):
    result = bench_cli("audit", "TEST99", "--backend", "null")
    assert result.exit_code == 2 and "TEST99" in result.output
