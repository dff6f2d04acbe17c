"""RunConfig: every option of one run, validated once at the edge; inner code trusts it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from bench.errors import UsageError

SCENARIOS = ("offline", "server", "single-stream")
PRECISIONS = ("fp32", "tf32", "bf16", "fp16", "int8")
MODES = ("performance", "accuracy", "both")
PROFILES = ("quick", "mlperf")

# --profile quick: a first run ends in about a minute on a 2-core laptop CPU.
QUICK_DURATION_S = 10.0
# MLPerf's latency bound for ResNet-50 Server.
MLPERF_SERVER_LATENCY_MS = 15.0


@dataclass(frozen=True)
class RunConfig:
    backend: str = "torch"
    scenario: str = "offline"
    model: str = "resnet50"
    weights: str = "synthetic"  # "synthetic" (seeded random) or a checkpoint path
    onnx: str | None = None  # an ONNX classifier to run instead of exporting `model`
    dataset: str = "synthetic"  # "synthetic" or a directory holding val_map.txt
    val_map: str | None = None
    count: int | None = None  # first N samples of the dataset
    preprocessing: str | None = None  # a bench.preprocessing profile; None: the model's own
    skip_bad: bool = False  # skip (and count) missing or undecodable images instead of stopping
    accuracy_threshold: float = 0.99  # accuracy PASSes at top-1 >= threshold x the model's reference
    precision: str = "fp32"
    device: str = "cpu"
    batch_size: int = 8
    threads: int | None = None  # None: the backend's default (all cores)
    mode: str = "performance"
    duration_s: float | None = None  # None: the profile's minimum
    profile: str = "quick"
    target_qps: float | None = None
    latency_bound_ms: float | None = None  # None: user.conf's target_latency, else MLPerf's 15 ms
    max_wait_ms: float = 2.0  # Server batcher: longest a sample waits for its batch to fill
    user_conf: str | None = None
    output: str = "results"
    system_name: str | None = None
    strict: bool = False
    seed: int = 0
    extra: dict = field(default_factory=dict)  # backend-specific options (compile mode, calibration, ...)

    def __post_init__(self):
        from bench.devices import validate as validate_device

        validate_device(self.device)  # cuda:x, cuda:0,0, cpu:1 ... stop here, exit 2
        if self.scenario not in SCENARIOS:
            raise UsageError(f"unknown scenario {self.scenario!r}: choose one of {', '.join(SCENARIOS)}")
        if self.precision not in PRECISIONS:
            raise UsageError(f"unknown precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}")
        if self.mode not in MODES:
            raise UsageError(f"unknown mode {self.mode!r}: choose one of {', '.join(MODES)}")
        if self.profile not in PROFILES:
            raise UsageError(f"unknown profile {self.profile!r}: choose one of {', '.join(PROFILES)}")
        for name in ("batch_size", "threads", "count"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise UsageError(f"--{name.replace('_', '-')} must be a positive integer, got {value}")
        for name in ("duration_s", "target_qps", "latency_bound_ms"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                flag = {"duration_s": "duration"}.get(name, name.replace("_", "-"))
                raise UsageError(f"--{flag} must be a positive number, got {value}")
        if not 0 < self.accuracy_threshold <= 1:
            raise UsageError(f"--accuracy-threshold must be in (0, 1], got {self.accuracy_threshold}")
        if self.val_map is not None and not Path(self.val_map).is_file():
            raise UsageError(f"val_map {self.val_map} does not exist: give the path of a val_map.txt file "
                             "(lines '<image path> <label>')")
        if self.max_wait_ms < 0:
            raise UsageError(f"--max-wait-ms must be >= 0, got {self.max_wait_ms}")
        if self.user_conf is not None:
            path = Path(self.user_conf)
            try:
                text = path.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"cannot read --user-conf {path}: {exc}. Give a readable LoadGen user.conf file.")
            from bench.userconf import parse

            parse(text, str(path))  # a bad line stops here, naming file:line, before anything loads or runs
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
        record["synthetic_weights"] = self.synthetic_weights
        record["synthetic_data"] = self.synthetic_data
        return record
