"""The run options, each declared once: flag, type, default, help, range or choices, and who honours it.

From this table come `bench run`'s click options (also shared by tune and audit), `RunConfig`'s fields
(bench/run/config.py), the checks every RunConfig passes (ranges, choices, backends, devices), and `to_command()`,
which prints the `bench run` command that reproduces a config. Standard library only: `bench --help` stays fast.
"""

from __future__ import annotations

import math
import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import UsageError
from scenarios import NAMES as SCENARIOS  # each scenario module declares itself; light to import

PRECISIONS = ("fp32", "tf32", "bf16", "fp16", "int8")
MODES = ("performance", "accuracy", "both")
PROFILES = ("quick", "mlperf")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
# --profile quick: a first run ends in about a minute on a 2-core laptop CPU.
QUICK_DURATION_S = 10.0
# MLPerf's latency bound for ResNet-50 Server.
MLPERF_SERVER_LATENCY_MS = 15.0
# Always printed by to_command(), default or not: they say what ran.
ALWAYS_SHOWN = ("backend", "scenario", "model")


def usable_cores() -> int:
    """CPUs this process may run on (taskset, a container's cpuset), not the machine's count; what the record's
    system.usable_cores says."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def max_threads() -> int:
    return 4 * usable_cores()


@dataclass(frozen=True)
class Option:
    name: str  # RunConfig's field; for a backend option, its key in RunConfig.extra and BackendOptions.extra
    type: type  # int, float, str, bool or Path
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] | None = None
    low: float | None = None  # a number must lie in low..high (or (low, high] with low_open)
    high: float | Callable[[], float] | None = None
    low_open: bool = False
    why: str = ""  # why the range: the refusal says it
    backends: tuple[str, ...] | None = None  # the backends that honour it; None: every backend
    devices: tuple[str, ...] | None = None  # the device kinds it needs, and why
    device_why: str = ""
    precisions: tuple[str, ...] | None = None  # the precisions it applies to
    backend_option: bool = False  # travels in RunConfig.extra to the backend, only when set
    flag: str = ""  # default: --name-with-dashes
    cli: bool = True

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def upper(self) -> float | None:
        return self.high() if callable(self.high) else self.high

    def range_text(self) -> str:
        span = f"> {_num(self.low)} and <= {_num(self.upper)}" if self.low_open else \
            f"in {_num(self.low)}..{_num(self.upper)}"
        return f"{'an integer' if self.type is int else 'a number'} {span}"

    def check_number(self, value) -> None:
        """Finite, of the option's type, and within its range: else exit 2 saying the range and why."""
        if self.low is None or value is None:
            return
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if self.type is int and not isinstance(value, int):
            number = False
        ok = number and math.isfinite(value) and (value > self.low if self.low_open else value >= self.low)
        if not (ok and value <= self.upper):
            raise UsageError(f"{self.cli_flag} must be {self.range_text()} ({self.why}), got {value!r}")


O = Option
OPTIONS: tuple[Option, ...] = (
    O("backend", str, "torch", "Backend name (see `bench backends`)."),
    O("scenario", str, "offline", "LoadGen scenario.", choices=SCENARIOS),
    O("model", str, "resnet50", "resnet18|34|50|101|152, or a known model (see `bench fetch --list`)."),
    O("weights", str, "synthetic", "Checkpoint (.pth/.safetensors, torchvision keys), or 'synthetic' for seeded "
      "random weights."),
    O("onnx", Path, None, "Run this ONNX classifier as it is (ONNX backends only)."),
    O("dataset", str, "synthetic", "Directory holding val_map.txt and the images, or 'synthetic'."),
    O("val_map", Path, None, "val_map.txt elsewhere than DATASET/val_map.txt."),
    O("count", int, None, "Use the first N usable samples of the dataset (with --skip-bad, a skipped image is "
      "replaced by the next line).", low=1, high=1_000_000,
      why="20x ImageNet's 50,000 validation images; LoadGen keeps bookkeeping per sample"),
    O("preprocessing", str, None, "Preprocessing profile: torchvision|torchvision-v2|mlperf (default: the model's)."),
    O("skip_bad", bool, False, "Skip and count missing or undecodable images instead of stopping."),
    O("accuracy_threshold", float, 0.99, "Accuracy PASSes at top-1 >= this fraction of the model's reference "
      "top-1 (MLPerf: 0.99).", low=0, high=1, low_open=True, why="a fraction of the model's reference top-1"),
    O("precision", str, "fp32", "Numeric precision; tf32 on CUDA only.", choices=PRECISIONS),
    O("device", str, "cpu", "cpu, cuda[:N], cuda:0,1 or cuda:all."),
    O("batch_size", int, 8, "Offline batch; Server's largest dynamic batch.", low=1, high=4096,
      why="larger batches only exhaust memory; MLPerf ResNet-50 systems batch far less"),
    O("threads", int, None, "Inference threads (default: the backend's own choice).", low=1, high=max_threads,
      why="4 per core this process may use; more threads only contend for the cores"),
    O("malloc", str, "keep", "glibc malloc: keep freed memory for the next batch, or glibc's defaults (system), "
      "which unmap large blocks and page-fault them in again each batch (see README, Performance).",
      choices=("keep", "system")),
    O("cuda_graphs", bool, False, "Replay a CUDA graph captured at the batch size.", backends=("torch",),
      devices=("cuda",), device_why="a CUDA graph is captured and replayed on a CUDA GPU", backend_option=True),
    O("streams", int, None, "Inferences in flight at once on the CPU, --threads divided between them (default 1).",
      low=1, high=64, why="each stream needs at least one thread and its own activations; beyond 64 they only "
      "contend", backends=("torch", "torch-compile", "onnxruntime", "openvino"), devices=("cpu",),
      device_why="on a GPU, --gpu-streams sets the concurrent CUDA streams", backend_option=True),
    O("gpu_streams", int, None, "Concurrent CUDA streams (execution contexts).", low=1, high=64,
      why="each stream holds a copy of the batch buffers; beyond 64 they only contend", backends=("torch", "tensorrt"),
      devices=("cuda",), device_why="streams are a CUDA GPU's queues", backend_option=True),
    O("ort_provider", str, None, "ONNX Runtime's CUDA or TensorRT execution provider (default cuda).",
      choices=("cuda", "tensorrt"), backends=("onnxruntime",), devices=("cuda",),
      device_why="both are GPU execution providers; on the CPU onnxruntime runs its own", backend_option=True),
    O("compile_mode", str, None, "torch.compile mode (default: default).", choices=COMPILE_MODES,
      backends=("torch-compile",), backend_option=True),
    O("calibration", Path, None, "A directory of calibration images, or an MLPerf calibration list (names under "
      "--dataset).", backends=("onnxruntime", "openvino", "tensorrt"), precisions=("int8",), backend_option=True),
    O("null_image_size", int, None, "Side of its synthetic images (default: the model's, 224); 1 times the harness "
      "without the per-image copy (see README, Performance).", low=1, high=4096,
      why="a 4096x4096 image is already 200 MB as float32", backends=("null",), backend_option=True),
    O("mode", str, "performance", "What LoadGen measures.", choices=MODES),
    O("duration_s", float, None, f"Minimum timed duration in seconds (quick: {QUICK_DURATION_S:g}).", low=0,
      high=86_400, low_open=True, why="one day; MLPerf's own minimum is 600 s", flag="--duration"),
    O("profile", str, "quick", "quick: short runs; mlperf: the official minimums (600 s, 24,576 Offline samples, "
      "...).", choices=PROFILES),
    O("target_qps", float, None, "Server arrival rate; Offline expected rate (default: from warm-up).", low=0,
      high=1_000_000, low_open=True,
      why="above any MLPerf ResNet-50 system; LoadGen allocates every query it schedules up front"),
    O("latency_bound_ms", float, None, "Server p99 latency bound (default: user.conf's target_latency, else "
      f"MLPerf's {MLPERF_SERVER_LATENCY_MS:g} ms).", low=0, high=60_000, low_open=True,
      why="a minute; MLPerf's bound is 15 ms"),
    O("max_wait_ms", float, 2.0, "Server: longest a sample waits for its batch to fill.", low=0, high=1000,
      why="a sample waiting longer than a second misses any latency bound"),
    O("user_conf", Path, None, "LoadGen user.conf (wins over the profile)."),
    O("output", Path, "results", "Results tree."),
    O("system_name", str, None, "Name of this system in reports (default: host name)."),
    O("strict", bool, False, "Exit 3 if LoadGen says INVALID or accuracy FAILs."),
    O("seed", int, 0, "Seed of synthetic weights and images.", cli=False),
)
BY_NAME: dict[str, Option] = {o.name: o for o in OPTIONS}
CLI_NAMES = tuple(o.name for o in OPTIONS if o.cli)
DEFAULTS: dict[str, Any] = {o.name: o.default for o in OPTIONS}


def _num(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def _backends_text(names: tuple[str, ...]) -> str:
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"the {listed} backend{'s' if len(names) > 1 else ''}"


def click_options(items=CLI_NAMES, **changes):
    """A decorator adding click options to a command: the table's (by name) or a command's own Option objects, in
    the order given. `changes` maps an option's name to click keywords that differ for this command."""
    import click

    def decorate(command):
        if isinstance(command, click.Command):  # already a command (decorated last): its params go first
            holder = decorate(lambda: None)
            command.params[:0] = list(reversed(holder.__click_params__))
            return command
        for o in reversed([BY_NAME[i] if isinstance(i, str) else i for i in items]):
            notes = [f"Range: {o.range_text().split(' ', 2)[2].removeprefix('in ')}."] if o.low is not None else []
            if o.backends:
                notes.append(f"Backends: {', '.join(o.backends)}" + "".join(f"; {' or '.join(w)} only" for w in (
                    o.precisions, o.devices) if w) + ".")
            kind = click.Choice(o.choices) if o.choices else \
                {int: int, float: float, bool: bool, Path: click.Path(), str: str}[o.type]
            keywords = {"type": kind, "is_flag": o.type is bool, "default": o.default,
                        "show_default": o.default is not None and o.type is not bool,
                        "help": " ".join([o.help, *notes]), **changes.get(o.name, {})}
            command = click.option(o.cli_flag, o.name, **keywords)(command)
        return command

    return decorate


def check(cfg) -> None:
    """What RunConfig checks against the table: choices, numbers, and options the backend or device cannot use."""
    kind = cfg.device.split(":")[0]
    for o in OPTIONS:
        value = cfg.extra.get(o.name, o.default) if o.backend_option else getattr(cfg, o.name)
        if o.choices and value is not None and value not in o.choices:
            raise UsageError(f"unknown {o.name.replace('_', ' ')} {value!r}: choose one of {', '.join(o.choices)}")
        o.check_number(value)
        if value is None or value is False or value == o.default:
            continue
        if o.backends and cfg.backend not in o.backends:
            raise UsageError(f"{o.cli_flag} applies to {_backends_text(o.backends)} only, not {cfg.backend}: "
                             f"drop it, or use --backend {o.backends[0]}. Nothing is ignored silently.")
        if o.devices and kind not in o.devices:
            raise UsageError(f"{o.cli_flag} needs --device {o.devices[0]} ({o.device_why}); this run is on "
                             f"{cfg.device}: drop it, or run on {o.devices[0]}")
        if o.precisions and cfg.precision not in o.precisions:
            raise UsageError(f"{o.cli_flag} applies to --precision {' or '.join(o.precisions)} only, not "
                             f"{cfg.precision}: drop it, or add --precision {o.precisions[0]}")
    if cfg.precision == "tf32" and kind != "cuda":
        raise UsageError(f"--precision tf32 needs --device cuda (TensorFloat-32 is a mode of NVIDIA tensor cores); "
                         f"this run is on {cfg.device}: use fp32 or bf16 there")


def run_config(values: Mapping[str, Any], **fields):
    """A RunConfig from flat option values (as click passes them) and fields a command decides itself.

    Backend options go to RunConfig.extra only when set, so a record lists what was asked for.
    """
    from bench.run.config import RunConfig

    merged = {**values, **fields}
    extra = {n: v for n, v in merged.items() if n in BY_NAME and BY_NAME[n].backend_option
             and v is not None and v is not False}
    if "calibration" in extra:  # a calibration list names images under the dataset
        extra["calibration_dataset"] = merged.get("dataset", BY_NAME["dataset"].default)
    plain = {n: v for n, v in merged.items() if n not in BY_NAME or not BY_NAME[n].backend_option}
    given = plain.pop("extra", None) or {}  # programmatic extras (channels_last, ...) are kept
    return RunConfig(**plain, extra={**given, **extra})


def to_command(config, **changes) -> str:
    """The `bench run` command that reproduces `config` (a RunConfig, or a record's config dict): options that
    differ from their defaults, shell-quoted. `changes` override fields first (e.g. user_conf=...)."""
    if isinstance(config, Mapping):
        values = {**config, **(config.get("extra") or {})}
    else:
        values = {o.name: getattr(config, o.name) for o in OPTIONS if not o.backend_option} | dict(config.extra)
    values.update(changes)
    return shlex.join(["bench", "run", *run_args(values)])


def run_args(values: Mapping) -> list[str]:
    """`bench run`'s arguments for option values keyed by the table's names: each option that differs from its
    default (and ALWAYS_SHOWN), in the table's order. What to_command() prints and `bench sweep` runs."""
    args = []
    for o in OPTIONS:
        value = values.get(o.name, o.default)
        if not o.cli or (value == o.default and o.name not in ALWAYS_SHOWN) or value is None or value is False:
            continue
        args += [o.cli_flag] if value is True else [o.cli_flag, str(value)]
    return args
