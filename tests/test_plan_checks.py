"""A sweep plan is checked whole, before its first cell runs, through `bench run`'s own option table.

Each case runs the real CLI (`bench sweep`): exit 2, one line naming the plan's file:line and the fix, and nothing
written (no sweep log, no output directory), because no cell may run before the whole plan is known to be good.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from bench.errors import UsageError
from bench.sweep import plan as plans

HEAD = '[defaults]\nbackend = "null"\nmodel = "resnet18"\n'


def _refused(bench_cli, tmp_path: Path, text: str, line: int, *words: str) -> str:
    path = tmp_path / "plan.toml"
    path.write_text(text)
    out = tmp_path / "out"
    result = bench_cli("sweep", path, "--output", out)
    assert result.exit_code == 2, result.output
    assert f"{path}:{line}:" in result.output, result.output
    for word in words:
        assert word in result.output, f"{word!r} not in {result.output}"
    assert "Traceback" not in result.output
    assert not out.exists(), "a refused plan must write nothing"
    return result.output


@pytest.mark.parametrize("axis, line, words", [
    ("batch-size = [1, 0]", 5, ("bad value 0 for batch-size", "an integer in 1..4,096")),  # a range, not click's
    ("batch-size = [8.7]", 5, ("8.7 is not a valid integer",)),  # refused, never truncated to 8
    ("count = [true]", 5, ("not a valid integer",)),
    ("duration = [nan]", 5, ("bad value nan for duration", "a number > 0")),
    ("max-wait-ms = [-1]", 5, ("max-wait-ms", "in 0..1,000")),
    ("weights = [50]", 5, ("not a string",)),
    ("scenario = ['Offline']", 5, ("not one of",)),
])
def test_values_are_checked_with_bench_runs_types_and_ranges(bench_cli, tmp_path, axis, line, words):
    _refused(bench_cli, tmp_path, HEAD + f"[matrix]\n{axis}\n", line, *words)


def test_one_option_spelt_two_ways_is_refused(bench_cli, tmp_path):
    _refused(bench_cli, tmp_path, HEAD + "[matrix]\nbatch-size = [1, 2]\nbatch_size = [4]\n", 6,
             "batch_size is given twice, as 'batch-size' and 'batch_size'")
    _refused(bench_cli, tmp_path, HEAD + "null-image-size = 1\nnull_image_size = 2\n[matrix]\ncount = [8]\n", 5,
             "null_image_size is given twice")


def test_an_option_the_cells_backend_does_not_honour_is_refused_naming_cell_and_backends(bench_cli, tmp_path):
    text = "[matrix]\nbackend = ['null', 'torch']\nmodel = ['resnet18']\nstreams = [2]\n"
    output = _refused(bench_cli, tmp_path, text, 4, "resnet18-null-offline", "--streams applies to the torch, "
                      "torch-compile, onnxruntime and openvino backends only, not null")
    assert "[[runs]]" in output  # the fix a plan can use: set it only for the cells that honour it
    # The device half of "who honours it": --cuda-graphs needs a CUDA device even on torch.
    _refused(bench_cli, tmp_path, HEAD.replace("null", "torch") + "[matrix]\ncuda-graphs = [true]\n", 5,
             "--cuda-graphs needs --device cuda")


def test_the_checks_of_one_cell_stop_a_plan_whose_other_cells_are_fine(bench_cli, tmp_path):
    """The bad cell is the last one: nothing ran before the refusal (no output at all)."""
    text = HEAD + "[matrix]\nscenario = ['offline']\n[[runs]]\nprecision = 'tf32'\n"
    _refused(bench_cli, tmp_path, text, 7, "--precision tf32 needs --device cuda")


def test_a_million_cell_matrix_is_counted_and_refused_without_being_built(tmp_path):
    axes = ["batch-size", "count", "max-wait-ms", "duration", "target-qps", "latency-bound-ms"]
    path = tmp_path / "plan.toml"
    path.write_text(HEAD + "[matrix]\n" + "".join(f"{a} = {list(range(1, 11))}\n" for a in axes)
                    + "[targets.a]\n[targets.b]\n")
    tracemalloc.start()
    try:
        with pytest.raises(UsageError, match=r"2,000,000 cells .*more than the 10,000") as info:
            plans.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert f"{path}:4:" in str(info.value) and "2 targets" in str(info.value)
    assert peak < 20_000_000, f"{peak:,} bytes: the matrix was built before it was counted"


def test_a_plan_at_the_limit_loads(tmp_path):
    path = tmp_path / "plan.toml"
    path.write_text(HEAD + f"[matrix]\ncount = {list(range(1, 101))}\nmax-wait-ms = {list(range(100))}\n")
    assert len(plans.load(path).cells) == plans.MAX_CELLS


def test_machine_bounds_are_left_to_the_node_that_runs_the_cell(tmp_path):
    """--threads is bounded by this machine's cores; a Ray plan's cells run on other nodes, which check theirs."""
    path = tmp_path / "plan.toml"
    path.write_text(HEAD + "[matrix]\nthreads = [100000]\n")
    with pytest.raises(UsageError, match="bad value 100000 for threads"):
        plans.load(path)
    assert plans.load(path, machine_bounds=False).cells[0].options["threads"] == 100000
    path.write_text(HEAD + "[matrix]\nthreads = [0]\n")  # the lower bound holds everywhere
    with pytest.raises(UsageError, match="bad value 0 for threads"):
        plans.load(path, machine_bounds=False)
