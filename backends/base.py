"""The backend interface: load (untimed), predict a batch, synchronize, describe what really ran."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from bench.config.run_config import DEFAULTS
from bench.errors import BackendUnavailable

INTENTS = ("latency", "throughput")


@dataclass(frozen=True)
class BackendOptions:
    """What a backend is asked for. Defaults are bench/config/run_config.py's; a backend never sees the scenario's name."""

    precision: str = DEFAULTS["precision"]
    device: str = DEFAULTS["device"]
    batch_size: int = DEFAULTS["batch_size"]  # the largest batch the scenario will issue
    threads: int | None = DEFAULTS["threads"]
    intent: str = "throughput"  # latency: one query at a time (fewest streams); throughput: keep the device full
    extra: dict = field(default_factory=dict)  # backend options that were set (bench/config/run_config.py), keyed by name

    def __post_init__(self):
        if self.intent not in INTENTS:
            raise ValueError(f"BackendOptions.intent must be one of {INTENTS}, got {self.intent!r}")


@dataclass
class Availability:
    available: bool
    reason: str = ""
    version: str = ""
    devices: list[str] = field(default_factory=list)


class Backend(ABC):
    """One inference runtime. `predict` takes NCHW float32 and returns class ids (int64, shape [N])."""

    name: str = ""
    extra: str = ""  # the pyproject extra that installs this backend's packages
    precisions: tuple[str, ...] = ("fp32",)
    devices: tuple[str, ...] = ("cpu",)  # device kinds (before any ":N")
    runs_onnx: bool = False  # takes --onnx files as they are
    # What the scenarios read of a loaded backend; a backend sets them in load() where they differ.
    concurrency: int = 1  # predict() callers that may run at once (worker threads the scenarios start)
    parallel_devices: int = 1  # devices the workers spread over (multi-GPU)
    parallel_streams: int = 1  # streams one device runs at once (OpenVINO THROUGHPUT): warm-up saw only one

    def reset_stats(self) -> None:
        """Start counting per-device work afresh (called before the timed run)."""

    def device_stats(self) -> list[dict] | None:
        """Each device's share of the timed run (multi-GPU), or None."""
        return None

    @classmethod
    @abstractmethod
    def probe(cls) -> Availability:
        """Whether this backend can run here, without loading a model."""

    @abstractmethod
    def load(self, model, options: BackendOptions) -> None:
        """Build, compile or load the model. Never timed."""

    @abstractmethod
    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Class ids for a batch; includes any host-to-device copy a real deployment pays.

        `batch` is the harness's reused buffer: use it before returning, never keep a reference to it.
        """

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Raw scores, for agreement checks between backends."""
        raise NotImplementedError(f"{self.name} does not expose logits")

    def synchronize(self) -> None:
        """Wait until all device work is finished (no-op on the CPU)."""

    @abstractmethod
    def describe(self) -> dict:
        """What actually ran: device, precision, threads, versions."""

    def close(self) -> None:
        """Free device memory and threads."""

    @classmethod
    def check_options(cls, options: BackendOptions) -> None:
        """Refuse, before any timing, what this backend cannot honour: no silent fallback."""
        if options.precision not in cls.precisions:
            raise BackendUnavailable(
                f"backend {cls.name} cannot run precision {options.precision}; it supports: "
                f"{', '.join(cls.precisions)}"
            )
        kind = options.device.split(":")[0]
        if kind not in cls.devices:
            raise BackendUnavailable(
                f"backend {cls.name} cannot run on device {options.device!r}; it supports: {', '.join(cls.devices)}"
            )
        if options.extra.get("streams"):  # before any run: --streams and --threads fit the scenario
            from backends.cpu_streams import split

            split(options)


def logits_output(outputs) -> str:
    """The name of an ONNX model's class-score output: the first float tensor of rank 2.

    MLPerf's resnet50_v1.onnx lists an int64 ArgMax output before its [N, 1001] softmax: taking
    output 0 blindly would read class ids as scores.
    """
    for out in outputs:
        if out.type in ("tensor(float)", "tensor(float16)") and len(out.shape) == 2:
            return out.name
    described = ", ".join(f"{o.name} {o.type} {o.shape}" for o in outputs)
    raise BackendUnavailable(f"the ONNX model has no class-score output of shape [batch, classes] (it has: "
                             f"{described}): give a ResNet-style classifier")


def argmax_classes(logits: np.ndarray) -> np.ndarray:
    """Class ids from logits; a 1001-way output (MLPerf's ONNX ResNet-50, class 0 = background) loses the offset."""
    classes = logits.argmax(axis=1)
    if logits.shape[1] == 1001:
        classes = classes - 1
    return classes
