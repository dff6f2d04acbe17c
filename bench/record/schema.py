"""The result record, declared once: every section of result.json as a dataclass (or, where another part of bench owns
the contents, a typed mapping). bench/record/codec.py writes these to JSON and reads them back strictly; the report's
columns (bench/report/columns.py) and docs/record-fields.md are checked against these declarations.

A field's place here is its place in result.json. Fields marked `later()` are written only once they hold a value
(a run that has not finished has no `run_dir`; accuracy's `note` only where there is something to say). A record
read from a file keeps the keys this version does not declare and the order its writer used, so reading and
writing it again gives the same bytes.

Adding a field: one line in its section here (and, to show it in reports, one entry in bench/report/columns.py).
Renaming or removing one bumps SCHEMA.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from bench.record.sections import (  # noqa: F401 - declared there, read from here
    Cpu,
    Figure,
    Latencies,
    Latency,
    Metric,
    Performance,
    Section,
    Unit,
    later,
)

SCHEMA = 2  # 2: performance.result_metric is MLPerf's headline with its key, unit and direction
Status = Literal["running", "complete", "failed", "interrupted", "died"]  # `died` is never written: readers show it


# ---- accuracy, power -------------------------------------------------------------------------------------------

@dataclass(slots=True)
class Accuracy(Section):
    """Top-1 from LoadGen's accuracy log and its verdict (bench/record/accuracy.py)."""

    top1: float | None = field(default=None, metadata={"required": True})
    correct: int | None = None
    count: int | None = field(default=None, metadata={"required": True})
    subset: bool | None = None
    full_set_count: int | None = None
    interval_95: list[float] | None = None
    interval_method: str | None = None
    reference_top1: float | None = None
    threshold_top1: float | None = None
    threshold: float | None = None
    passed: bool | None = None
    verdict: Literal["PASS", "FAIL", "INCONCLUSIVE"] | None = None
    synthetic: bool | None = None
    response_dtype: str | None = None
    log: str | None = None
    note: str | None = later()


@dataclass(slots=True)
class Power(Section):
    """Power over LoadGen's window, or why there is none (bench/run/power.py; a measured one adds its channels,
    window and sampling, kept in the order the sampler wrote them)."""

    available: bool | None = None
    reason: str | None = None
    source: str | None = None
    avg_watts: float | None = None
    max_watts: float | None = None
    energy_j: float | None = None
    joules_per_sample: float | None = None
    samples_per_second_per_watt: float | None = None
    label: str | None = later()


# ---- what ran, and where ---------------------------------------------------------------------------------------

@dataclass(slots=True)
class Config(Section):
    """Every option of the run (bench/config/) plus synthetic_weights and synthetic_data. The
    options readers use are declared; the rest are kept as the option table names them."""

    backend: str | None = None
    scenario: str | None = None
    model: str | None = None
    weights: str | None = None
    onnx: str | None = None
    dataset: str | None = None
    count: int | None = None
    precision: str | None = None
    device: str | None = None
    batch_size: int | None = None
    threads: int | None = None
    mode: str | None = None
    profile: str | None = None
    system_name: str | None = None
    synthetic_weights: bool | None = None
    synthetic_data: bool | None = None


class Model(TypedDict, total=False):
    """What the model's spec describes (bench/models/spec.py): a mapping, these keys typed."""

    name: str | None
    weights: str | None
    num_classes: int | None
    reference_top1: float | None


class Backend(TypedDict, total=False):
    """What the backend's describe() returned: a mapping each backend fills (backends/), these keys typed."""

    name: str | None
    device: str | None
    precision: str | None
    threads: int | None
    endpoints: list[str] | None  # remote: each --url, as given


class Gpu(TypedDict, total=False):
    name: str | None
    memory_gb: float | None


@dataclass(slots=True)
class System(Section):
    """The machine (bench/system/sysinfo.py)."""

    system_name: str | None = None
    cpu: str | None = None
    cpu_flags: list[str] | None = None
    cpu_flags_override: dict[str, Any] | None = None
    cores: int | None = None
    physical_cores: int | None = None
    threads_per_core: int | None = None
    sockets: int | None = None
    usable_cores: int | None = None
    cpu_mhz: float | None = None
    cpu_max_mhz: float | None = None
    memory_gb: float | None = None
    gpus: list[Gpu] | None = None
    os: str | None = None
    os_name: str | None = None
    kernel: str | None = None
    machine: str | None = None
    python: str | None = None
    packages: dict[str, str] | None = None


@dataclass(slots=True)
class Timing(Section):
    """Untimed phases, never part of the timed region."""

    load_s: float | None = later()
    compile_s: float | None = later("of load_s: the compile or engine build the backend reports; null if it does none")
    warmup_s: float | None = later()
    first_call_s: float | None = later("of warmup_s: the first batch (a lazy compile, allocation)")
    warmup_estimate: dict[str, float] | None = later("samples_per_second, single_latency_s")
    warmup_batch_sizes: list[int] | None = later()


@dataclass(slots=True)
class Scenario(Section):
    name: str | None = None
    loadgen_name: str | None = None
    batch_size: int | None = None  # the largest batch the scenario issues
    intent: str | None = None
    pads_partial_batches: bool | None = None


@dataclass(slots=True)
class Malloc(Section):
    """What --malloc left in force (bench/system/malloc.py)."""

    mode: str | None = None
    in_force: dict[str, int | str] | None = None  # read from the process: its environment, then bench's mallopt
    environment: dict[str, str] | None = later("the MALLOC_* and GLIBC_TUNABLES variables it started with")
    libc: str | None = None
    note: str | None = later()


@dataclass(slots=True)
class Process(Section):
    """The writer (bench/system/signals.py): a reader tells a dead `running` run (shown `died`) from a live one."""

    pid: int | None = None
    host: str | None = None
    start_ticks: int | None = None
    malloc: Malloc | None = later()


@dataclass(slots=True)
class Snapshot(Section):
    """The inputs a run read, frozen into its run directory (bench/record/snapshot.py)."""

    user_conf: dict[str, Any] | None = later("source, file: user.conf in the run directory, sha256")
    val_map: dict[str, Any] | None = later("path, sha256")


@dataclass(slots=True)
class Record(Section):
    """One run's result.json."""

    schema: int = field(default=SCHEMA, metadata={"required": True})
    run_id: str = field(default="", metadata={"required": True})
    status: Status = field(default="running", metadata={"required": True})
    started_at: str | None = None
    finished_at: str | None = None
    config: Config = field(default_factory=Config, metadata={"required": True})
    model: Model | None = None
    dataset: dict[str, Any] | None = None
    backend: Backend | None = None
    system: System | None = None
    timing: Timing | None = field(default_factory=Timing)
    performance: Performance | None = None
    accuracy: Accuracy | None = None
    power: Power | None = None
    error: str | None = None
    process: Process | None = None
    scenario: Scenario | None = later()
    timed_region: str | None = later("what LoadGen's latencies cover")
    snapshot: Snapshot | None = later()
    run_dir: str | None = later("written when the run ends")
    audit: dict[str, Any] | None = later("bench audit: each test's verdict")
    nonfinite: list[str] | None = later("where the writer found NaN or Infinity (written as null)")
    repeat: dict[str, Any] | None = later("bench run --repeat: config_id, index, of, series, rule (bench/stats/repeats.py)")

