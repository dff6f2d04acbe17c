"""The backend interface: declare what runs where, load (untimed), predict a batch, describe what really ran.

A backend declares, per device kind, what it supports (`SUPPORTS`); the base class refuses everything else from
that declaration, with one message shape (`Backend.refusal`), and `bench backends`, the option table's "who
honours it" and the sweep's static check all read the same declaration.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bench.backends.precision import NEEDS
from bench.backends.support import INPUT_FORMS, Need, Support, device_kind  # noqa: F401 (the interface's names, here)
from bench.config.run_config import BY_NAME, DEFAULTS
from bench.errors import BackendUnavailable

if TYPE_CHECKING:  # type hints only: the declarations import without numpy (`bench run --help`)
    import numpy as np

    from bench.backends.cpu_streams import Split

INTENTS = ("latency", "throughput")


def need_of(support: Support, precision: str) -> Need | None:
    """What a precision needs there besides the backend: a shared need named by key (backends/precision.py's
    NEEDS), or the backend's own Need."""
    need = support.needs.get(precision)
    return NEEDS[need] if isinstance(need, str) else need


def flag(option: str) -> str:
    """How the user set a backend option: its flag, or its name for a programmatic one (channels_last)."""
    return BY_NAME[option].cli_flag if BY_NAME[option].cli else option


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

    def set_options(self) -> list[str]:
        """The option table's backend options this run sets (a value other than None and the default)."""
        return [k for k, v in self.extra.items() if k in BY_NAME and BY_NAME[k].backend_option
                and v is not None and v != BY_NAME[k].default]


@dataclass
class Availability:
    available: bool
    reason: str = ""
    version: str = ""
    devices: list[str] = field(default_factory=list)


class Backend(ABC):
    """One inference runtime. `predict` takes NCHW float32 and returns class ids (int64, shape [N])."""

    name: str = ""
    # The declaration: per device kind (as --device spells it before any ":N"), what this backend supports.
    SUPPORTS: Mapping[str, Support] = {"cpu": Support()}
    pip_extra: str = ""  # the pyproject extra that installs this backend's packages (pip install 'bench[...]')
    packages: tuple[str, ...] = ()  # the distributions whose versions a record keeps (bench/system/sysinfo.py)
    model_format: str = "none"  # what it runs of a bench model: "torch" (as built), "onnx" (exported) or "none"
    over_network: bool = False  # the model runs on a server it calls: LoadGen's SUT is then a "Network SUT"
    # What every loaded backend has, by one name: its options, the device as bench spells it (`cuda:0`), and on
    # the CPU the streams' split (cpu_streams.apply). Per-worker resources are a WorkerPool named `pool`, the
    # largest batch it takes `max_batch`.
    options: BackendOptions
    device: str
    split: Split | None = None
    # What the scenarios read of a loaded backend; a backend sets them in load() where they differ.
    concurrency: int = 1  # predict() callers that may run at once (worker threads the scenarios start)
    parallel_devices: int = 1  # devices the workers spread over (multi-GPU)
    parallel_streams: int = 1  # streams one device runs at once (OpenVINO THROUGHPUT): warm-up saw only one

    # ---- the declaration, read -----------------------------------------------------------------------------

    @classmethod
    def supports(cls, device: str) -> Support | None:
        """What it supports on this device (`cpu`, `cuda:1`, `gpu.0`), or None where it declares no such kind."""
        return cls.SUPPORTS.get(device_kind(device))

    @classmethod
    def refusal(cls, options: BackendOptions, asked: str, reason: str,
                supported: tuple[str, ...] | list[str] | None = None) -> BackendUnavailable:
        """Every refusal's one shape: backend, device, what was asked, why, and what it supports there
        (by default the precisions that can run there). One line, exit 2."""
        if supported is None:
            supported = cls.precisions_here(options.device)
        what = f" {asked}" if asked else ""
        return BackendUnavailable(f"backend {cls.name} cannot run{what} on {options.device}: {reason}; it supports: "
                                  f"{', '.join(supported) or 'nothing there'}")

    @classmethod
    def precisions_here(cls, device: str) -> list[str]:
        """The declared precisions on this device whose needs this machine meets (native bf16, ...)."""
        support = cls.supports(device)
        if support is None:
            return []
        return [p for p in support.precisions if (need := need_of(support, p)) is None or need.here() is None]

    @classmethod
    def declared_refusal(cls, options: BackendOptions) -> BackendUnavailable | None:
        """What the declaration alone refuses, on any machine: the device kind, the precision there, the options
        there. The sweep's static check (bench/sweep/plan.py) and check_options both start here; an option it
        honours on no device is refused first, naming who does, by the registry (backends.unhonoured)."""
        support = cls.supports(options.device)
        if support is None:
            return cls.refusal(options, "", "it declares no such device", tuple(cls.SUPPORTS))
        if options.precision not in support.precisions:
            elsewhere = {k: need_of(s, options.precision) for k, s in cls.SUPPORTS.items()
                         if options.precision in s.precisions}
            reason = f"{options.precision} only on {' or '.join(elsewhere)}" if elsewhere else \
                f"it has no {options.precision} on any device"
            reason += "".join(sorted({f", with {n.label}" for n in elsewhere.values() if n is not None}))
            return cls.refusal(options, f"precision {options.precision}", reason)
        for name in options.set_options():
            if name not in support.options:
                flags = tuple(flag(o) for o in support.options)
                return cls.refusal(options, flag(name), "not an option it honours there", flags)
        return None

    @classmethod
    def check_options(cls, options: BackendOptions) -> None:
        """Refuse, before any timing, what this backend cannot honour: no silent fallback.

        The declaration, then what a precision needs (native bf16, a calibration set), then the CPU streams'
        split. A backend with a rule the declaration cannot say (a combination of options) extends this and
        raises `cls.refusal(...)`, so its message has the same shape.
        """
        refused = cls.declared_refusal(options)
        if refused is not None:
            raise refused
        support = cls.supports(options.device)
        need = need_of(support, options.precision) if support else None
        if need is not None:
            reason = need.check(options)
            if reason:  # what it supports here without that need
                others = [p for p in cls.precisions_here(options.device) if p != options.precision]
                raise cls.refusal(options, f"precision {options.precision}", reason, others)
        if options.extra.get("streams"):  # before any run: --streams and --threads fit the scenario
            from bench.backends.cpu_streams import split

            split(options)

    # ---- a loaded backend ----------------------------------------------------------------------------------

    def reset_stats(self) -> None:  # noqa: B027 (optional hook: the default does nothing)
        """Start counting per-device work afresh (called before the timed run)."""

    def device_stats(self) -> list[dict] | None:
        """Each device's share of the timed run (multi-GPU), or None."""
        return None

    def server_time(self) -> dict | None:
        """A served model's time on its server over the timed run (remote), or None."""
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

    def synchronize(self) -> None:  # noqa: B027 (optional hook: the default does nothing)
        """Wait until all device work is finished (no-op on the CPU)."""

    @abstractmethod
    def describe(self) -> dict:
        """What actually ran: device, precision, threads, versions."""

    def close(self) -> None:  # noqa: B027 (optional hook: the default does nothing)
        """Free device memory and threads."""


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
