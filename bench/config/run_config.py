"""RunConfig: every option of one run, declared once as its fields, validated once at the edge; inner code trusts it.

Each field carries its Option (type, default, help, range, who honours it). From these come `bench run`'s click options
(also shared by tune and audit), the checks every RunConfig passes (ranges, choices, backends, devices) and the
`bench run` command that reproduces a config (bench/config/command_line.py). Options that travel to one backend are
declared beside it (BACKEND_OPTIONS) and live in `RunConfig.extra` only when set, so a record lists what was asked for.
Standard library only: `bench --help` stays fast.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.config import userconf
from bench.config.option import Option, field_options, option
from bench.errors import UsageError
from bench.scenarios import (
    NAMES as SCENARIOS,  # each scenario module declares itself; light to import
)
from bench.system import devices

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
class RunConfig:
    """Every option of one run. Paths are kept as the strings given (records and commands show them as typed)."""

    backend: str = option("torch", "Backend name (see `bench backends`).")
    scenario: str = option("offline", "LoadGen scenario.", choices=SCENARIOS)
    model: str = option("resnet50", "resnet18|34|50|101|152, or a known model (see `bench fetch --list`).")
    weights: str = option("synthetic", "Checkpoint (.pth/.safetensors, torchvision keys), or 'synthetic' for seeded "
                          "random weights.")
    onnx: str | None = option(None, "Run this ONNX classifier as it is (ONNX backends only).", type=Path)
    dataset: str = option("synthetic", "Directory holding val_map.txt and the images, or 'synthetic'.")
    val_map: str | None = option(None, "val_map.txt elsewhere than DATASET/val_map.txt.", type=Path)
    count: int | None = option(None, "Use the first N usable samples of the dataset (with --skip-bad, a skipped "
                               "image is replaced by the next line).", low=1, high=1_000_000,
                               why="20x ImageNet's 50,000 validation images; LoadGen keeps bookkeeping per sample")
    preprocessing: str | None = option(None, "Preprocessing profile: torchvision|torchvision-v2|mlperf (default: the "
                                       "model's).")
    skip_bad: bool = option(False, "Skip and count missing or undecodable images instead of stopping.")
    accuracy_threshold: float = option(0.99, "Accuracy PASSes at top-1 >= this fraction of the model's reference "
                                       "top-1 (MLPerf: 0.99).", low=0, high=1, low_open=True,
                                       why="a fraction of the model's reference top-1")
    precision: str = option("fp32", "Numeric precision; tf32 on CUDA only.", choices=PRECISIONS)
    device: str = option("cpu", "cpu, cuda[:N], cuda:0,1 or cuda:all.")
    batch_size: int = option(8, "Offline batch; Server's largest dynamic batch.", low=1, high=4096,
                             why="larger batches only exhaust memory; MLPerf ResNet-50 systems batch far less")
    threads: int | None = option(None, "Inference threads (default: the backend's own choice).", low=1,
                                 high=max_threads, why="4 per core this process may use; more threads only contend for the cores")
    malloc: str = option("keep", "glibc malloc: keep freed memory for the next batch, or glibc's defaults (system), "
                         "which unmap large blocks and page-fault them in again each batch (see docs/performance.md).",
                         choices=("keep", "system"))
    mode: str = option("performance", "What LoadGen measures.", choices=MODES)
    duration_s: float | None = option(None, f"Minimum timed duration in seconds (quick: {QUICK_DURATION_S:g}).",
                                      low=0, high=86_400, low_open=True, why="one day; MLPerf's own minimum is 600 s",
                                      flag="--duration")
    profile: str = option("quick", "quick: short runs; mlperf: the official minimums (600 s, 24,576 Offline "
                          "samples, ...).", choices=PROFILES)
    target_qps: float | None = option(None, "Server arrival rate; Offline expected rate (default: from warm-up).",
                                      low=0, high=1_000_000, low_open=True, why="above any MLPerf ResNet-50 system; "
                                      "LoadGen allocates every query it schedules up front")
    latency_bound_ms: float | None = option(None, "Server p99 latency bound (default: user.conf's target_latency, "
                                            f"else MLPerf's {MLPERF_SERVER_LATENCY_MS:g} ms).", low=0, high=60_000,
                                            low_open=True, why="a minute; MLPerf's bound is 15 ms")
    max_wait_ms: float = option(2.0, "Server: longest a sample waits for its batch to fill.", low=0, high=1000,
                                why="a sample waiting longer than a second misses any latency bound")
    user_conf: str | None = option(None, "LoadGen user.conf (wins over the profile).", type=Path)
    output: str = option("results", "Results tree.", type=Path)
    system_name: str | None = option(None, "Name of this system in reports (default: host name).")
    strict: bool = option(False, "Exit 3 if LoadGen says INVALID or accuracy FAILs.")
    seed: int = option(0, "Seed of synthetic weights and images.", cli=False)
    # Backend options (set ones only) and programmatic extras (calibration_dataset, ...).
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        devices.validate(self.device)  # cuda:x, cuda:0,0, cpu:1 ... stop here, exit 2
        check(self)  # choices, ranges, options this backend or device does not honour
        if self.val_map is not None and not Path(self.val_map).is_file():
            raise UsageError(f"val_map {self.val_map} does not exist: give the path of a val_map.txt file "
                             "(lines '<image path> <label>')")
        if self.user_conf is not None:
            path = Path(self.user_conf)
            try:
                text = path.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"cannot read --user-conf {path}: {exc}. Give a readable LoadGen user.conf file.")
            userconf.parse(text, str(path))  # a bad line stops here, naming file:line, before anything loads or runs
        if self.dataset != "synthetic" and not Path(self.dataset).is_dir():
            raise UsageError(
                f"dataset directory {self.dataset} does not exist: give a directory holding val_map.txt "
                "and the images, or --dataset synthetic"
            )

    @property
    def latency_bound(self) -> float:
        """The Server latency bound asked for on the command line, else MLPerf's (a user.conf may still set it)."""
        return MLPERF_SERVER_LATENCY_MS if self.latency_bound_ms is None else self.latency_bound_ms

    @property
    def synthetic_weights(self) -> bool:
        return self.onnx is None and self.weights == "synthetic"

    @property
    def synthetic_data(self) -> bool:
        return self.dataset == "synthetic" and self.val_map is None

    def replace(self, **changes) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def to_record(self) -> dict:
        record = dataclasses.asdict(self)
        record["extra"] = redacted(record["extra"])  # a credential never reaches a record
        record["synthetic_weights"] = self.synthetic_weights
        record["synthetic_data"] = self.synthetic_data
        return record


Opt = Option  # short: the table below names it on every row
# Options that one backend (or a few) honour: in RunConfig.extra, and in BackendOptions.extra for the backend.
# Which backends honour each is their own declaration (`SUPPORTS`); backends.create refuses the others.
BACKEND_OPTIONS: tuple[Option, ...] = (
    Opt("cuda_graphs", bool, False, "Replay a CUDA graph captured at the batch size.",
      devices=("cuda",), device_why="a CUDA graph is captured and replayed on a CUDA GPU", backend_option=True),
    # MLPerf (inference_rules.adoc, LoadGen): "The trace generated by LoadGen must be stored in the DRAM that most
    # faithfully simulates queries arriving from the most logical source", and its FAQ answers "No" to preloading
    # image data closer to the accelerator. `device` measures the GPU without the host path; bench submission refuses it.
    Opt("input_location", str, "host", "Where the loaded samples live: host (MLPerf's rule), or device (copied to the "
      "GPU in LoadGen's load_samples, untimed: measures the GPU without the host path; never submittable).",
      choices=("host", "device"), devices=("cuda",),
      device_why="the samples are copied to a CUDA GPU's memory", backend_option=True),
    Opt("streams", int, None, "Inferences in flight at once on the CPU, --threads divided between them (default 1).",
      low=1, high=64, why="each stream needs at least one thread and its own activations; beyond 64 they only "
      "contend", devices=("cpu",),
      device_why="on a GPU, --gpu-streams sets the concurrent CUDA streams", backend_option=True),
    Opt("gpu_streams", int, None, "Concurrent CUDA streams (execution contexts).", low=1, high=64,
      why="each stream holds a copy of the batch buffers; beyond 64 they only contend",
      devices=("cuda",), device_why="streams are a CUDA GPU's queues", backend_option=True),
    Opt("ort_provider", str, None, "ONNX Runtime's CUDA or TensorRT execution provider (default cuda).",
      choices=("cuda", "tensorrt"), devices=("cuda",),
      device_why="both are GPU execution providers; on the CPU onnxruntime runs its own", backend_option=True),
    Opt("compile_mode", str, None, "torch.compile mode (default: default).", choices=COMPILE_MODES, backend_option=True),
    Opt("calibration", Path, None, "A directory of calibration images, or an MLPerf calibration list (names under "
      "--dataset).", precisions=("int8",), backend_option=True),
    Opt("null_image_size", int, None, "Side of its synthetic images (default: the model's, 224); 1 times the harness "
      "without the per-image copy (see docs/performance.md).", low=1, high=4096,
      why="a 4096x4096 image is already 200 MB as float32", backend_option=True),
    Opt("channels_last", bool, None, "Memory format: channels_last (True) or contiguous (False); default: channels_last "
      "on CUDA, on the CPU the faster of both timed at load.", backend_option=True, cli=False),
    Opt("sim_a_us", float, None, "sim: a batch of n takes a + b*n microseconds; this is a (default 300).", low=0,
      high=1e6, why="a second per batch is no accelerator", backend_option=True),
    Opt("sim_b_us", float, None, "sim: b, microseconds per sample (default 45: a 22,222 samples/s ceiling at k=1).",
      low=0, high=1e6, low_open=True, why="a device needs some time per sample; a second each is none",
      backend_option=True),
    Opt("sim_inflight", int, None, "sim: batches the device runs at once, k (default 1; ceiling k/b).", low=1, high=64,
      why="each batch in flight holds a staging buffer", backend_option=True),
    # The remote backend (backends/remote_backend.py): a model served over the Open Inference Protocol.
    Opt("url", str, None, "The server(s): http://, https://, grpc:// or grpcs:// host:port, or a comma list "
      "(requests go to the endpoint with the fewest outstanding).", backend_option=True),
    Opt("remote_model", str, None, "The served model's name (default: the server's only model).",
      backend_option=True),
    Opt("concurrency", int, None, "Requests in flight at once per endpoint (default 1).", low=1, high=256,
      why="each request in flight holds a client, a connection and a batch",
      backend_option=True),
    Opt("request_timeout_ms", float, None, "Client-side time-out of one request (default 10000): a stalled server "
      "fails the run.", low=0, high=3_600_000, low_open=True, why="an hour",
      backend_option=True),
    Opt("header", str, None, "An HTTP header / gRPC metadata sent with every request, 'Name: value' or "
      "'Name: env:VARIABLE'; its value is never written to a record or log.",
      backend_option=True, secret=True),
    Opt("ca_cert", Path, None, "PEM file of the CA that signed an https:// or grpcs:// server's certificate.",
      backend_option=True),
    Opt("allow_endpoint_loss", bool, False, "With several --url: an endpoint that dies is taken out and its requests "
      "sent to the others; the record names the lost endpoint and the samples re-sent (without it the run fails).",
      backend_option=True),
)
_FIELDS = field_options(RunConfig, typing.get_type_hints(RunConfig))
_AT = [o.name for o in _FIELDS].index("mode")  # backend options follow the device and batching ones, as in --help
OPTIONS: tuple[Option, ...] = _FIELDS[:_AT] + BACKEND_OPTIONS + _FIELDS[_AT:]
BY_NAME: dict[str, Option] = {o.name: o for o in OPTIONS}
CLI_NAMES = tuple(o.name for o in OPTIONS if o.cli)
DEFAULTS: dict[str, Any] = {o.name: o.default for o in OPTIONS}


def redacted(extra: dict) -> dict:
    """Backend options with the values of secret ones (--header's credential) replaced: what records and printed
    commands show. A header keeps its name, so a reader sees one was sent."""
    out = dict(extra)
    for o in BACKEND_OPTIONS:
        if o.secret and out.get(o.name):
            out[o.name] = str(out[o.name]).partition(":")[0].strip() + ": <redacted>"
    return out


def check(cfg: RunConfig) -> None:
    """What RunConfig checks against the table: choices, numbers, and options the device or precision cannot use
    (whether the backend honours an option is its declaration's to say, checked when it is created)."""
    kind = cfg.device.split(":")[0]
    for o in OPTIONS:
        value = cfg.extra.get(o.name, o.default) if o.backend_option else getattr(cfg, o.name)
        if o.choices and value is not None and value not in o.choices:
            raise UsageError(f"unknown {o.name.replace('_', ' ')} {value!r}: choose one of {', '.join(o.choices)}")
        o.check_number(value)
        if value is None or value == o.default:
            continue
        if o.devices and kind not in o.devices:
            raise UsageError(f"{o.cli_flag} needs --device {o.devices[0]} ({o.device_why}); this run is on "
                             f"{cfg.device}: drop it, or run on {o.devices[0]}")
        if o.precisions and cfg.precision not in o.precisions:
            raise UsageError(f"{o.cli_flag} applies to --precision {' or '.join(o.precisions)} only, not "
                             f"{cfg.precision}: drop it, or add --precision {o.precisions[0]}")
    if cfg.precision == "tf32" and kind != "cuda":
        raise UsageError(f"--precision tf32 needs --device cuda (TensorFloat-32 is a mode of NVIDIA tensor cores); "
                         f"this run is on {cfg.device}: use fp32 or bf16 there")
