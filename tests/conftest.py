"""Test fixtures: an isolated cache and results tree, the CLI runner, the bundled data (tests/data)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = Path(__file__).resolve().parent / "data"

# Tests whose path follows the CPU's flags carry `cpu_features`: `.ci/run` runs them a second time with
# BENCH_CPU_FLAGS="avx2 fma" (test-only: the harness sees an AVX2-only CPU), so both paths pass on one machine.
NO_BF16_REASON = "no native bf16 here (avx512_bf16/amx_bf16 not among the flags the harness reads)"


def needs_native_bf16(test):
    """Runs where the CPU has native bf16; elsewhere it skips, and the tests marked `lacks_native_bf16` run."""
    from bench.backends.precision import native_bf16

    return pytest.mark.cpu_features(pytest.mark.skipif(not native_bf16(), reason=NO_BF16_REASON)(test))


def lacks_native_bf16(test):
    """The refusal path: runs only where bf16 would be refused (exit 2 naming the missing flag)."""
    from bench.backends.precision import native_bf16

    return pytest.mark.cpu_features(pytest.mark.skipif(native_bf16(), reason="this CPU has native bf16: "
                                                       "the bf16 runs are tested instead of the refusal")(test))


# Small and short: the suite runs on 2 cores within CI's budget.
FAST_RUN = ["--model", "resnet18", "--count", "16", "--batch-size", "4", "--threads", "1", "--duration", "1"]


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """One cache per test session (ONNX exports, preprocessed data), never the user's ~/.cache."""
    if "BENCH_CACHE" not in os.environ:
        os.environ["BENCH_CACHE"] = str(tmp_path_factory.mktemp("bench-cache"))
    yield


@pytest.fixture
def results_dir(tmp_path) -> Path:
    return tmp_path / "results"


@pytest.fixture
def bench_cli():
    """Run `bench ARGS...` in-process; returns click's Result (exit_code, output)."""
    from bench.cli import cli

    def invoke(*args: str):
        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)

    return invoke


def only_run(results: Path) -> dict:
    """The single result.json under a results tree."""
    found = list(results.glob("*/result.json"))
    assert len(found) == 1, f"expected one run under {results}, found {found}"
    return json.loads(found[0].read_text())
