"""The option table (bench/config/run_config.py): each option declared once, commands that reproduce a config, and a fuzz
of every numeric `bench run` option through the real CLI (exit 0 or 2, never a traceback, a hang or non-finite
JSON)."""

from __future__ import annotations

import dataclasses
import json
import math
import shlex
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bench.config import command_line, option
from bench.config import run_config as options
from bench.config.run_config import RunConfig

# `bench run`'s own options, not the table's: how the result is printed, and a --repeat series around the runs.
RUN_OWN = ("as_json", "repeat", "until_stable", "max_repeats", "in_series")


def parse(command: str) -> RunConfig:
    """The RunConfig `bench run` would build from a printed command, without running it."""
    from bench.cli import run

    words = shlex.split(command)
    assert words[:2] == ["bench", "run"], command
    params = run.make_context("run", words[2:]).params
    for own in RUN_OWN:
        params.pop(own)
    return command_line.run_config(params)


def test_each_option_is_declared_once():
    """run's click options, RunConfig's fields and BackendOptions' defaults are all the table's."""
    from bench.backends.base import BackendOptions
    from bench.cli import run
    from bench.commands.tune import tune_cmd

    assert [p.name for p in run.params if p.name not in (*RUN_OWN, "help")] == list(options.CLI_NAMES)
    assert {p.name for p in tune_cmd.params} >= {"gpu_streams", "cuda_graphs", "compile_mode", "null_image_size"}
    fields = {f.name: f.default for f in dataclasses.fields(RunConfig)}
    assert fields.pop("extra") is dataclasses.MISSING
    assert fields == {o.name: o.default for o in options.OPTIONS if not o.backend_option}
    backend = BackendOptions()
    assert all(getattr(backend, n) == options.DEFAULTS[n] for n in ("precision", "device", "batch_size", "threads"))
    with pytest.raises(ValueError, match="intent"):
        BackendOptions(intent="single-stream")  # a backend gets an intent, never a scenario's name


def test_to_command_reproduces_a_config(tmp_path):
    """Only what differs from the defaults, shell-quoted: parsed back, it is the same config."""
    data = tmp_path / "it's a dir"
    data.mkdir()
    conf = data / "user conf"
    conf.write_text("*.Server.target_qps = 10\n")
    cfg = command_line.run_config({"backend": "null", "scenario": "server", "model": "resnet18", "count": 16,
                              "batch_size": 4, "threads": 1, "duration_s": 0.5, "max_wait_ms": 5.5,
                              "latency_bound_ms": 40.0, "null_image_size": 8, "user_conf": str(conf),
                              "system_name": "box; rm -rf /", "skip_bad": True, "strict": True})
    command = command_line.to_command(cfg)
    assert "--max-wait-ms 5.5" in command and "--null-image-size 8" in command and "'box; rm -rf /'" in command
    assert "--precision" not in command and "--device" not in command  # defaults are left out
    assert parse(command) == cfg
    assert command_line.to_command(cfg.to_record()) == command  # a record's config prints the same command
    assert parse(command_line.to_command(cfg, user_conf=None, mode="accuracy")) == cfg.replace(user_conf=None,
                                                                                         mode="accuracy")


def test_help_imports_nothing_heavy():
    code = ("import sys\nfrom bench.cli import cli\ntry:\n    cli.main(['run', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'numpy', 'mlperf_loadgen', 'pandas', 'onnxruntime') if m in sys.modules),"
            " file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert result.stderr.strip().splitlines()[-1] == "[]", result.stderr
    assert "--max-wait-ms" in result.stdout and "Range: 0..1,000" in result.stdout


@pytest.mark.parametrize("args,says", [
    (("verify", "--threshold", "nan"), "--threshold must be a number in 0..1 (a share of the images), got nan"),
    (("verify", "--low-precision-threshold", "2"), "--low-precision-threshold must be a number in 0..1"),
    (("verify", "--count", "0"), "--count must be an integer in 1..1,000,000"),
    (("tune", "--scenario", "server", "--max-trials", "1000"), "--max-trials must be an integer in 3..100"),
    (("tune", "--scenario", "server", "--max-qps", "inf"), "--max-qps must be a number in 0.13..1,000,000"),
])
def test_other_commands_check_their_numbers(bench_cli, tmp_path, args, says):
    """Every command's numbers are checked the same way, before any work."""
    result = bench_cli(*args, "--dataset", tmp_path) if args[0] == "verify" else bench_cli(*args, "--output", tmp_path)
    assert result.exit_code == 2 and says in result.output, result.output


# ---- fuzz ------------------------------------------------------------------------------------------------------

NUMERIC = [o for o in options.OPTIONS if o.cli and o.low is not None]
# A null-backend Server run of about a second: accepted values must finish quickly, refused ones exit 2.
BASE = ["--backend", "null", "--model", "resnet18", "--scenario", "server", "--count", "8", "--duration", "0.2",
        "--target-qps", "500", "--null-image-size", "1"]
# Accepted values that would only make a run long or large (a day's --duration) are not tried: the range allows
# them on purpose. Each example is also bounded by a timeout.
CHEAP = {"duration_s": (0, 1), "count": (1, 256), "target_qps": (100, 5000), "null_image_size": (1, 64)}
TIMEOUT_S = 120


def _strict_json(text: str):
    def refuse(constant):
        raise ValueError(f"non-finite JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


NUMBER_TEXT = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "1e309", "-0", "0", "1e-320", "", " ", "1_000", "0x10", "٣", "+5", "1e3",
                     "4097", "-1", "65", "1001", "86401", "1e6"]),
    st.floats().map(repr),
    st.integers(-10**20, 10**20).map(str),
    st.floats(0, 5000).map(lambda v: f"{v:g}"),
    st.integers(0, 300).map(str),  # mostly accepted: those runs must end well too
)


def _too_costly(option: option.Option, text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    low, high = CHEAP.get(option.name, (-math.inf, math.inf))
    in_range = math.isfinite(value) and option.low <= value <= option.upper
    return in_range and not low <= value <= high


@settings(max_examples=30, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.sampled_from(NUMERIC), NUMBER_TEXT)
@example(options.BY_NAME["max_wait_ms"], "inf")  # once hung the Server batcher forever
@example(options.BY_NAME["target_qps"], "1e9")  # once made LoadGen ask for about 170 GB
@example(options.BY_NAME["threads"], "100000")
@example(options.BY_NAME["accuracy_threshold"], "nan")
@example(options.BY_NAME["max_wait_ms"], "1000")  # the largest accepted wait still ends
def test_numeric_options_exit_0_or_2(tmp_path_factory, option, text):
    if _too_costly(option, text):
        return
    out = tmp_path_factory.mktemp("fuzz")
    args = [sys.executable, "-m", "bench.cli", "run", *BASE, option.cli_flag, text, "--output", str(out), "--json"]
    try:
        result = subprocess.run(args, check=False, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{option.cli_flag} {text!r} did not finish in {TIMEOUT_S} s")
    said = f"{option.cli_flag} {text!r}: exit {result.returncode}\n{result.stderr[-2000:]}"
    assert result.returncode in (0, 2), said  # never 1 (a crash), 139 (a signal) ...
    assert "Traceback" not in result.stderr, said
    if result.returncode == 0:
        record = _strict_json(result.stdout)
        assert record["status"] == "complete", said
        for path in out.rglob("result.json"):
            _strict_json(path.read_text())
    else:
        assert option.cli_flag in result.stderr or "Invalid value" in result.stderr, said
        assert not list(out.rglob("result.json")), "a refused run left a record"
