"""bench deletes and overwrites only what it created, and writes only under the output it was given.

Every name that becomes a path (submitter, system, audit test, sweep target, cell key, run id) is one safe path
component (bench/safe_names.py); a tree is replaced only when bench's marker names it. Hypothesis over hostile
names proves no path leaves its root; the real CLI proves a refusal comes before anything is removed: exit 2, one
line naming the option or field, earlier results and everything outside the output byte for byte unchanged.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import safe_names
from bench.errors import UsageError
from bench.sweep import plan as plans

HOSTILE = ["..", ".", "", "a/b", "../x", "../../etc", "/tmp/elsewhere", "x/../../y", ".hidden", "a\nb", "a\x00b",
           "a\\b", " ", "~", "x" * 300, "..\u2215x", "\u202e..", "-"]
NAMES = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40),
                  st.lists(st.sampled_from(["..", ".", "a", "", "/", "b\n"]), max_size=6).map("/".join))
NULL_RUN = ["--backend", "null", "--model", "resnet18", "--count", "16", "--duration", "0.5", "--system-name", "box"]


def _digest(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


# ---- the one check, over hostile names ---------------------------------------------------------------------------

@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=NAMES)
def test_a_name_is_one_component_under_its_root_or_refused_naming_the_option(name, tmp_path):
    root = tmp_path.resolve()
    try:
        safe_names.component(name, "--submitter")
    except UsageError as exc:
        message = str(exc)
        assert message.startswith("--submitter ") and "\n" not in message and "cannot name a folder" in message
        assert safe_names.problem(safe_names.slug(name)) is None  # the suggestion it gives is itself accepted
    else:
        assert (root / name).resolve().parent == root and not name.startswith(".")
    assert safe_names.problem(safe_names.slug(name)) is None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(NAMES, min_size=1, max_size=4))
def test_inside_never_leaves_its_root(parts, tmp_path):
    root = tmp_path.resolve()
    try:
        path = safe_names.inside(root, *parts)
    except ValueError:
        assert any(safe_names.problem(p) is not None for p in parts)
        return
    assert path.resolve().is_relative_to(root) and len(path.relative_to(root).parts) == len(parts)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=NAMES, model=NAMES)
def test_a_plan_target_either_is_refused_at_load_or_lands_under_the_output(name, model, tmp_path):
    def toml(text: str) -> str:  # a TOML basic string: controls, quotes and backslashes escaped
        return '"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x20 or c in '\x7f"\\' else c for c in text) + '"'

    path = tmp_path / "plan.toml"
    path.write_text(f'[[runs]]\nbackend = "null"\nmodel = {toml(model)}\n[targets.{toml(name)}]\n'
                    'options = { threads = 1 }\n')
    try:
        plan = plans.load(path)
    except UsageError as exc:
        assert str(exc).startswith(f"{path}:") and "\n" not in str(exc)
        assert safe_names.problem(name) is not None or "model" in str(exc)
        return
    output = (tmp_path / "out").resolve()
    for cell in plan.cells + [c for c, _ in plan.skipped]:
        where = safe_names.inside(output, cell.target.name, cell.key)
        assert where.resolve().parent.parent == output


@settings(max_examples=200, deadline=None)
@given(system_name=NAMES, model=NAMES, backend=NAMES)
def test_names_bench_derives_from_a_record_are_always_one_component(system_name, model, backend):
    """A record's free text (its system name, model, backend) becomes a folder only through slug(): always safe."""
    from bench.mlperf import submission

    record = {"config": {"backend": backend, "precision": "fp32", "scenario": "offline", "model": model,
                         "batch_size": 8, "threads": 1, "device": "cpu", "extra": {}},
              "system": {"system_name": system_name}}
    (sys_id,) = submission.system_ids([record], None)
    assert safe_names.problem(sys_id) is None and safe_names.problem(safe_names.slug(model)) is None
    cell = plans.Cell(plans.Target("any"), {"model": model, "backend": backend})
    assert safe_names.problem(cell.key) is None


# ---- bench submission ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A results tree holding one finished run, with a file of the user's beside it."""
    from click.testing import CliRunner

    from bench.cli import cli

    out = tmp_path_factory.mktemp("paths") / "results"
    result = CliRunner().invoke(cli, ["run", *NULL_RUN, "--output", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (out / "NOTES.txt").write_text("the user's own file\n")
    return out


def _refused(result, option: str) -> None:
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and option in errors[0], result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("name", ["..", ".", "a/b", "../..", "/tmp", "", ".Other", "x\n", "-/x"])
def test_submitter_names_that_leave_the_tree_are_refused_before_anything_is_removed(bench_cli, results, tmp_path,
                                                                                     name):
    # The worst case the issue found: --out equal to --results, with another organisation's tree already there.
    work = tmp_path / "results"
    shutil.copytree(results, work)
    (work / "open" / "Other").mkdir(parents=True)
    (work / "open" / "Other" / "keep.txt").write_text("another organisation's tree\n")
    before, outside = _digest(work), _digest(tmp_path)
    result = bench_cli("submission", "--results", work, "--out", work, "--submitter", name, "--division", "open")
    _refused(result, "--submitter")
    assert _digest(work) == before and _digest(tmp_path) == outside


def test_a_system_name_that_leaves_the_tree_is_refused(bench_cli, results, tmp_path):
    before = _digest(results)
    for name in ("../escape", "..", "my box"):
        result = bench_cli("submission", "--results", results, "--out", tmp_path / "sub", "--submitter", "Acme",
                           "--division", "open", "--system", name)
        _refused(result, "--system")
    assert _digest(results) == before and not (tmp_path / "sub").exists()


def test_an_audit_name_in_a_record_that_leaves_the_tree_is_refused_naming_the_file(bench_cli, results, tmp_path):
    work = tmp_path / "results"
    shutil.copytree(results, work)
    (run,) = [p for p in work.iterdir() if p.is_dir()]
    victim = tmp_path / "victim"  # a directory outside both --results and --out
    victim.mkdir()
    (victim / "precious.txt").write_text("not bench's\n")
    record = json.loads((run / "result.json").read_text())
    for name in (str(victim), "../../../victim"):
        record["audit"] = {name: {"passed": True}}
        (run / "result.json").write_text(json.dumps(record))
        (run / "compliance").mkdir(exist_ok=True)
        before = _digest(tmp_path)
        result = bench_cli("submission", "--results", work, "--out", tmp_path / "sub", "--submitter", "Acme",
                           "--division", "open")
        _refused(result, "audit test")
        assert str(run / "result.json") in " ".join(result.output.split())
        assert _digest(tmp_path) == before and (victim / "precious.txt").read_text() == "not bench's\n"


def test_only_a_tree_bench_wrote_is_replaced(bench_cli, results, tmp_path):
    out = tmp_path / "sub"
    args = ["submission", "--results", results, "--out", out, "--submitter", "Acme", "--division", "open"]
    assert bench_cli(*args).exit_code == 0
    root = out / "open" / "Acme"
    assert bench_cli(*args).exit_code == 0  # bench's own tree: replaced whole
    assert (root / "systems").is_dir()
    assert not [p for p in root.rglob(".*")], "a dot-file inside the tree (the MLCommons checker refuses them)"

    # A file the user added to bench's tree is not bench's: the tree is not replaced, the file is kept.
    (root / "notes.txt").write_text("the user's\n")
    before = _digest(out)
    _refused(bench_cli(*args), str(root))
    assert _digest(out) == before

    # Someone else's tree at that place (the marker is for another directory): refused, left as it was.
    shutil.rmtree(root)
    root.mkdir()
    (root / "mine.txt").write_text("the user's\n")
    before = _digest(out)
    result = bench_cli(*args)
    _refused(result, str(root))
    assert "not written by bench" in result.output and _digest(out) == before

    # A draft of bench's name that bench did not create: refused too, not removed.
    shutil.rmtree(root)
    draft = out / "open" / ".Acme.partial"
    draft.mkdir()
    (draft / "x.txt").write_text("the user's\n")
    before = _digest(out)
    _refused(bench_cli(*args), str(draft))
    assert _digest(out) == before


# ---- bench sweep -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["../escape", "/tmp/abs-target", "a/../../b", "..", "report"])
def test_a_plan_target_that_leaves_the_output_is_refused_at_load(bench_cli, tmp_path, name):
    plan = tmp_path / "plan.toml"
    plan.write_text(f'[defaults]\nbackend = "null"\n[matrix]\nscenario = ["offline"]\n\n[targets."{name}"]\n'
                    'hostname = "here"\n')
    before = _digest(tmp_path)
    result = bench_cli("sweep", plan, "--output", tmp_path / "out")
    _refused(result, f"{plan}:6: target name {name!r}")
    assert _digest(tmp_path) == before and not Path("/tmp/abs-target").exists()


# ---- files bench rewrites: only its own -------------------------------------------------------------------------

def test_tune_and_submission_never_overwrite_a_users_file_in_their_output(bench_cli, results, tmp_path):
    """bench tune rewrites <output>/user.conf and tune.json, bench submission <out>/FILL_IN.md: only when bench
    wrote them there (a marker beside each holds the sha256 of what it wrote), never a user's file of that name."""
    tune_out = tmp_path / "tuned"
    tune_out.mkdir()
    (tune_out / "user.conf").write_text("*.Offline.target_qps = 123\n")  # the user's hand-made settings
    before = _digest(tune_out)
    result = bench_cli("tune", "--backend", "null", "--scenario", "offline", "--count", "8", "--output", tune_out)
    _refused(result, str(tune_out / "user.conf"))
    assert "not written by bench" in result.output and _digest(tune_out) == before

    out = tmp_path / "sub"
    args = ["submission", "--results", results, "--out", out, "--submitter", "Acme", "--division", "open"]
    assert bench_cli(*args).exit_code == 0
    assert bench_cli(*args).exit_code == 0  # bench's own FILL_IN.md: rewritten
    (out / "FILL_IN.md").write_text("my notes\n")  # changed by the user since: theirs now
    before = _digest(out)
    _refused(bench_cli(*args), str(out / "FILL_IN.md"))
    assert _digest(out) == before


def test_a_failed_build_leaves_no_draft_and_the_old_tree_as_it_was(bench_cli, results, tmp_path, monkeypatch):
    import errno

    from bench.mlperf import submission_tree

    out = tmp_path / "sub"
    args = ["submission", "--results", results, "--out", out, "--submitter", "Acme", "--division", "open"]
    assert bench_cli(*args).exit_code == 0
    before = _digest(out)

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(out / "open" / ".Acme.partial" / "systems"))

    monkeypatch.setattr(submission_tree, "write_common", full)
    result = bench_cli(*args)
    assert result.exit_code != 0 and "No space left on device" in result.output and "Traceback" not in result.output
    assert _digest(out) == before  # no draft left beside it (the checker would take it for a submitter)


def test_a_link_planted_in_the_sweep_output_does_not_carry_runs_elsewhere(bench_cli, tmp_path):
    from tests.test_sweep_plan import NULL

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    output = tmp_path / "out"
    output.mkdir()
    (output / "any").symlink_to(elsewhere)  # the plan's default target's folder, a link out of --output
    plan = tmp_path / "plan.toml"
    plan.write_text(NULL + '[matrix]\nscenario = ["offline"]\n')
    result = bench_cli("sweep", plan, "--output", output)
    assert result.exit_code == 1, result.output
    assert "outside" in " ".join(result.output.split()) and not list(elsewhere.rglob("*"))


def test_a_link_in_the_submission_out_does_not_carry_the_tree_elsewhere(bench_cli, results, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "sub"
    out.mkdir()
    (out / "open").symlink_to(elsewhere)
    result = bench_cli("submission", "--results", results, "--out", out, "--submitter", "Acme", "--division", "open")
    _refused(result, "--out")
    assert not list(elsewhere.rglob("*"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(run_id=NAMES)
def test_a_run_id_from_another_node_lands_under_its_cell_or_fails_the_attempt(run_id, tmp_path_factory):
    """A Ray node sends its run's id with the run: it names the run's folder, so it is checked like any name."""
    import io
    import tarfile

    from bench.sweep import tree

    root = tmp_path_factory.mktemp("land")
    plan_file = root / "plan.toml"
    plan_file.write_text('[[runs]]\nbackend = "null"\n')
    plan = plans.load(plan_file)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("result.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    output = root / "out"
    sweep = tree.Sweep(plan, output, "ray")
    (cell,) = plan.cells
    outcome = {"status": "complete", "reason": None, "node": {"node_id": "n"}, "software": {}, "run_id": run_id,
               "started_at": 0.0, "finished_at": 1.0, "returncode": 0, "tar": buffer.getvalue()}
    settled = sweep.attempt(cell, outcome)
    entry = sweep.state(cell)
    if safe_names.problem(run_id) is None:
        assert settled and (output / entry["path"]).resolve().parent.parent.parent == output.resolve()
    else:
        assert not settled and entry["status"] == "failed" and "safe path component" in entry["reason"]
    assert {p.name for p in root.iterdir()} == {"plan.toml", "out"}
