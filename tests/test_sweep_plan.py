"""bench sweep without Ray: the plan (checked against bench run's own options), the local executor, --resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.errors import UsageError
from bench.sweep import plan as plans
from bench.sweep.options import run_params, to_command
from tests.conftest import ROOT

NULL = """
[defaults]
backend = "null"
model = "resnet18"
count = 16
null-image-size = 1
duration = 0.5
target-qps = 2000  # Offline issues duration x this many samples: the null backend's own rate would be millions
"""


def write(tmp_path: Path, text: str, name: str = "plan.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_plan_options_are_bench_runs_own():
    from bench.cli import run

    params = run_params()
    assert {"backend", "scenario", "batch_size", "duration", "precision"} <= set(params)
    assert "output" not in params and "json" not in params  # the sweep decides where results land
    # every bench run option but where results land, how they print, and a sweep's own --in-series
    assert len(params) == len([p for p in run.params if p.name not in ("output", "as_json", "strict", "in_series")])
    assert "in_series" not in params


def test_matrix_runs_and_targets_expand_and_to_command_round_trips(tmp_path):
    text = NULL + """
[matrix]
scenario = ["offline", "single-stream"]
batch-size = [1, 4]
[[runs]]
scenario = "server"
target_qps = 500
[targets.a]
resources = { a = 1 }
[targets.b]
labels = { rack = "b" }
options = { threads = 1 }
"""
    plan = plans.load(write(tmp_path, text))
    assert len(plan.cells) == 2 * (4 + 1) and not plan.skipped
    assert len({c.config_hash for c in plan.cells}) == len(plan.cells)
    b = [c for c in plan.cells if c.target.name == "b"]
    assert all(c.options["threads"] == 1 for c in b) and b[0].target.labels == {"rack": "b"}
    cell = next(c for c in plan.cells if c.options["scenario"] == "server")
    argv = to_command(cell.options, "OUT")
    assert argv[:4] == [sys.executable, "-m", "bench.cli", "run"] and argv[-2:] == ["--output", "OUT"]
    assert argv[argv.index("--target-qps") + 1] == "500.0" and argv[argv.index("--duration") + 1] == "0.5"
    # The command line parses back, through bench run's own parser, to the cell's options.
    from bench.cli import run

    parsed = run.make_context("run", argv[4:]).params
    assert parsed["backend"] == "null" and parsed["target_qps"] == 500.0 and parsed["null_image_size"] == 1


def test_combinations_a_backend_refuses_are_filtered_with_its_reason(tmp_path):
    # Without NULL's null-image-size: an option only the null backend honours, crossed with other backends, is
    # refused whole (test_plan_checks.py); a precision a backend lacks is filtered.
    text = NULL.replace("null-image-size = 1\n", "") + """
[matrix]
backend = ["null", "tensorrt", "openvino"]
precision = ["fp32", "fp16"]
"""
    plan = plans.load(write(tmp_path, text))
    reasons = {(c.options["backend"], c.options["precision"]): r for c, r in plan.skipped}
    assert "supports: cuda" in reasons[("tensorrt", "fp32")]  # TensorRT needs a GPU device
    assert ("null", "fp16") not in reasons and ("null", "fp32") not in reasons
    assert all(c.options["backend"] != "tensorrt" for c in plan.cells)


@pytest.mark.parametrize("text, line, words", [
    ("[matrix]\nbackend = ['null']\nbatch-sise = [1]\n", 3, "unknown run option 'batch-sise'"),
    ("[matrix]\nbackend = ['null']\nscenario = ['offline', 'offlien']\n", 3, "Give one of offline"),
    ("[matrix]\nbackend = ['null']\nbatch_size = ['eight']\n", 3, "not a valid integer"),
    ("[matrix]\nbackend = ['null']\n[targets.x]\nresources = { gpu = 'yes' }\n", 4, "positive number"),
    ("[matrix]\nbackend = ['null']\n[targets.x]\nhost = 'a'\n", 4, "unknown key 'host'"),
    ("[matrix]\nbackend = ['null'\n", 2, "not valid TOML"),
    ("[matrix]\nbackend = 'null'\nscenario == 1\n", 3, "not valid TOML"),
    ("[defaults]\nbackend = 'null'\n", 1, "no cells"),
    # the plan's repeat rule: bench run's own --repeat / --until-stable / --max-repeats, their ranges and rules
    ("repeat = 2.5\n[matrix]\nbackend = ['null']\n", 1, "bad value 2.5 for repeat"),
    ("repeat = 0\n[matrix]\nbackend = ['null']\n", 1, "bad value 0 for repeat"),
    ("repeat = 3\nuntil_stable = 5\n[matrix]\nbackend = ['null']\n", 1, "two stopping rules"),
    ("max-repeats = 4\n[matrix]\nbackend = ['null']\n", 1, "max_repeats bounds until_stable"),
    ("until_stable = 5\nmax_repeats = 2\n[matrix]\nbackend = ['null']\n", 1, "at least 3"),
    ("[defaults]\nrepeat = 2\n[matrix]\nbackend = ['null']\n", 2, "repeat rule, not a run option"),
])
def test_a_malformed_plan_exits_2_naming_file_line_and_fix(bench_cli, tmp_path, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(UsageError, match=words) as info:
        plans.load(path)
    assert f"{path}:{line}:" in str(info.value)
    result = bench_cli("sweep", path, "--output", tmp_path / "out")
    assert result.exit_code == 2 and str(path) in result.output


def run_dirs(output: Path) -> list[Path]:
    return sorted(p.parent for p in output.glob("*/*/[!.]*/cell.json"))


def test_resume_after_ctrl_c_runs_only_the_missing_cells(tmp_path):
    plan = write(tmp_path, NULL + '[matrix]\nscenario = ["offline", "single-stream"]\nbatch-size = [1, 2]\n')
    output = tmp_path / "out"
    cmd = [sys.executable, "-m", "bench.cli", "sweep", str(plan), "--output", str(output)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.monotonic() + 120
    while not run_dirs(output) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    text = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, text
    first = run_dirs(output)
    assert 1 <= len(first) < 4, text
    assert not list(output.glob("*/*/.landing-*")), "a partial run was left in the tree"
    (log,) = output.glob("sweep-*.json")
    assert json.loads(log.read_text())["status"] == "interrupted"

    result = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, env=env, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    logs = sorted(output.glob("sweep-*.json"), key=lambda p: p.stat().st_mtime)
    assert len(logs) == 2  # each sweep its own log: two sweeps into one output never collide
    cells = json.loads(logs[-1].read_text())["cells"]
    assert sorted(c["status"] for c in cells).count("resumed") == len(first)
    assert all(c["status"] in ("resumed", "complete") for c in cells)
    ran = [c for c in cells if c["status"] == "complete"]
    assert all(len(c["attempts"]) == 1 for c in ran) and len(ran) == 4 - len(first)
    assert len(run_dirs(output)) == 4  # exactly one run per cell: nothing ran twice
    assert (output / "report" / "index.html").is_file() and "report (4 runs)" in result.stdout


def test_ray_targets_are_unplaceable_locally_and_ray_needs_its_extra(bench_cli, tmp_path):
    plan = write(tmp_path, NULL + '[matrix]\nscenario = ["offline"]\n[targets.h100]\naccelerator = "H100"\n')
    result = bench_cli("sweep", plan, "--output", tmp_path / "out")
    assert result.exit_code == 1
    (log,) = (tmp_path / "out").glob("sweep-*.json")
    (cell,) = json.loads(log.read_text())["cells"]
    assert cell["status"] == "unplaceable" and "--ray" in cell["reason"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "ray", None)  # import ray fails as it does without the extra
        result = bench_cli("sweep", plan, "--output", tmp_path / "out2", "--ray", "auto")
    assert result.exit_code == 2 and "pip install 'bench[sweep]'" in result.output


def test_version_warnings_name_the_cell_and_both_versions(bench_cli, tmp_path):
    import shutil

    from bench.sweep.tree import version_warnings

    plan = write(tmp_path, NULL + '[matrix]\nscenario = ["offline"]\n')
    output = tmp_path / "out"
    assert bench_cli("sweep", plan, "--output", output).exit_code == 0
    assert version_warnings(output) == []
    (run,) = run_dirs(output)
    other = output / "other-node" / run.parent.name / run.name  # the same cell, run by another node's harness
    shutil.copytree(run, other)
    meta = json.loads((other / "cell.json").read_text())
    meta["software"]["bench_version"] = "0.0.9"
    (other / "cell.json").write_text(json.dumps(meta))
    (warning,) = version_warnings(output)
    assert "different bench versions" in warning and "0.0.9" in warning and run.parent.name in warning


def test_a_failing_cell_is_retried_recorded_with_its_reason_and_lands_nothing(bench_cli, tmp_path):
    plan = write(tmp_path, NULL + '[matrix]\nuser-conf = ["/nonexistent/user.conf"]\n')
    output = tmp_path / "out"
    result = bench_cli("sweep", plan, "--output", output, "--retries", "1")
    assert result.exit_code == 1
    (log,) = output.glob("sweep-*.json")
    (cell,) = json.loads(log.read_text())["cells"]
    assert cell["status"] == "failed" and len(cell["attempts"]) == 2
    assert all("exited 2" in a["reason"] and "--user-conf" in a["reason"] for a in cell["attempts"])
    assert run_dirs(output) == [] and not list(output.glob("*/*/*"))


def test_two_sweeps_into_one_output_never_collide(tmp_path):
    plan = write(tmp_path, NULL + '[matrix]\nscenario = ["offline"]\n')
    output = tmp_path / "out"
    cmd = [sys.executable, "-m", "bench.cli", "sweep", str(plan), "--output", str(output)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
             for _ in range(2)]
    texts = [p.communicate(timeout=180)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], texts
    logs = [json.loads(p.read_text()) for p in output.glob("sweep-*.json")]
    assert len(logs) == 2 and logs[0]["sweep_id"] != logs[1]["sweep_id"]
    runs = run_dirs(output)
    assert len(runs) == 2 and runs[0].parent == runs[1].parent  # the same cell, twice, side by side
    assert {log["cells"][0]["path"] for log in logs} == {str(r.relative_to(output)) for r in runs}


def test_repeat_in_a_plan_runs_rounds_a_b_a_b_each_a_record_of_one_configuration(bench_cli, tmp_path):
    from bench.stats import figures

    assert plans.load(write(tmp_path, "until_stable = 5\n" + NULL + "[matrix]\nscenario = ['offline']\n")).rule == \
        {"until_stable": 5.0, "window": 3, "max_repeats": 10}
    plan = write(tmp_path, "repeat = 2\n" + NULL + "[matrix]\nbatch-size = [1, 2]\n")
    assert plans.load(plan).rule == {"repeat": 2}
    output = tmp_path / "out"
    result = bench_cli("sweep", plan, "--output", output)
    assert result.exit_code == 0, result.output
    records = [json.loads((d / "result.json").read_text()) for d in run_dirs(output)]
    assert len(records) == 4 and all(r["status"] == "complete" for r in records)
    records.sort(key=lambda r: r["started_at"])
    batches = [r["config"]["batch_size"] for r in records]
    assert batches in ([1, 2, 1, 2], [2, 1, 2, 1])  # interleaved: round 1 runs both cells before round 2
    for batch in (1, 2):
        mine = [r for r in records if r["config"]["batch_size"] == batch]
        blocks = [r["repeat"] for r in mine]
        assert [b["index"] for b in blocks] == [1, 2] and all(b["of"] == 2 for b in blocks)
        assert len({b["series"] for b in blocks}) == 1 and blocks[0]["rule"] == {"repeat": 2}
        assert {b["config_id"] for b in blocks} == {figures.config_id(mine[0]["config"])}  # as bench run --repeat
        (summary_path,) = run_dirs(output)[0].parent.parent.glob(f"*/{blocks[0]['config_id']}-*.summary.json")
        summary = json.loads(summary_path.read_text())
        assert summary["stopped"] == "complete" and [r["index"] for r in summary["runs"]] == [1, 2]
        assert len(summary["figures"]["metric"]["values"]) == 2
    (log,) = output.glob("sweep-*.json")
    cells = json.loads(log.read_text())["cells"]
    assert all(c["series"]["stopped"] == "complete" and len(c["series"]["runs"]) == 2 for c in cells)
    # the two configurations, compared: two runs each, a verdict (not "single-run") with its interval
    compared = bench_cli("compare", output)
    assert compared.exit_code == 0 and "2/2" in compared.output and "single-run" not in compared.output
    resumed = bench_cli("sweep", plan, "--output", output, "--resume")
    assert resumed.exit_code == 2 and "--resume with the plan's repeat rule" in resumed.output


def test_until_stable_in_a_plan_stops_each_cell_by_its_own_stability(bench_cli, tmp_path):
    plan = write(tmp_path, "until_stable = 60\nmax_repeats = 3\n" + NULL + "[matrix]\nscenario = ['offline']\n")
    output = tmp_path / "out"
    result = bench_cli("sweep", plan, "--output", output)
    assert result.exit_code == 0, result.output
    (log,) = output.glob("sweep-*.json")
    (cell,) = json.loads(log.read_text())["cells"]
    summary = json.loads((output / cell["series"]["summary"]).read_text())
    assert summary["rule"] == {"until_stable": 60.0, "window": 3, "max_repeats": 3} and len(summary["runs"]) == 3
    stable = summary["stability"]
    assert stable["window"] == 3 and stable["runs"] == 3  # judged over the 3 runs, as bench run --until-stable
    assert summary["stopped"] == ("converged after 3 runs" if stable["stable"] else "not converged in 3 runs")
    assert summary["unstable"] is (not stable["stable"])
    records = [json.loads((d / "result.json").read_text()) for d in run_dirs(output)]
    assert sorted(r["repeat"]["index"] for r in records) == [1, 2, 3]
    assert sorted(r["run_dir"] for r in summary["runs"]) == [str(d.resolve()) for d in run_dirs(output)]
    assert all(r["repeat"]["rule"]["until_stable"] == 60.0 for r in records)
