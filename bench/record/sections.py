"""The record's common ground and its performance section (bench/record/schema.py declares the rest and is the one
place to import from): the Section base every part of the record shares, and the performance run's dataclasses with
the headline Figure that scenarios declare.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Unit = Literal["samples/s", "ms"]  # the units of LoadGen's figures as records show them (ns become ms)


def later(doc: str = ""):
    """A field written only once it holds a value (None: the key is left out, as the dict records did)."""
    return field(default=None, metadata={"later": True, "doc": doc})


@dataclass(slots=True)
class Section:
    """What every section shares: the keys read that this version does not declare, and the order they were read in
    (both empty for a section bench builds itself; then the declared order is written)."""

    extra_keys: dict = field(default_factory=dict, init=False, repr=False, compare=False, metadata={"internal": True})
    read_order: tuple = field(default=(), init=False, repr=False, compare=False, metadata={"internal": True})

    # Access by key, for callers written against the dict record (tune's trials, the benchmarks' scripts); setting a
    # key sets a declared field only.
    def __getitem__(self, key: str):
        if key in self.extra_keys:
            return self.extra_keys[key]
        if key in ("extra_keys", "read_order") or key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value) -> None:
        """Only a declared field: a new key is a new field in bench/record/schema.py (or sections.py), typed."""
        if key in ("extra_keys", "read_order") or key not in self.__dataclass_fields__:
            raise KeyError(f"{type(self).__name__} declares no field {key!r}: add it to bench/record/schema.py")
        setattr(self, key, value)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (key in self.extra_keys or (
            key in self.__dataclass_fields__ and key not in ("extra_keys", "read_order")))

    def get(self, key: str, default=None):
        try:
            return self[key]
        except KeyError:
            return default


# ---- performance -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Figure:
    """A figure LoadGen logs in its detail log, as a scenario declares it: `key` as LoadGen spells it, nanoseconds
    shown as ms. `measured(value)` is what the record holds."""

    key: str
    name: str  # what a reader sees, e.g. "completed samples/s"
    unit: Unit
    higher_is_better: bool

    def read(self, detail: dict) -> float | None:
        value = detail.get(self.key)
        if value is None:
            return None
        return value / 1e6 if self.unit == "ms" else float(value)  # LoadGen logs latencies in ns

    def measured(self, value: float | None) -> Metric:
        return Metric(self.key, self.name, self.unit, self.higher_is_better, value)


@dataclass(slots=True)
class Metric(Section):
    """A figure with its value: the headline (`result_metric`) or one beside it (`secondary`). Schema-1 records
    carried only name and value (scenarios.headline() names them as such)."""

    key: str | None = None
    name: str | None = None
    unit: Unit | None = None
    higher_is_better: bool | None = None
    value: float | None = None
    logged: float | None = later("what LoadGen logged when it is no figure (0 for too few queries)")
    note: str | None = later("why value is null")


@dataclass(slots=True)
class Latency(Section):
    """LoadGen's latency percentiles of the timed run, in ms."""

    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p97: float | None = None
    p99: float | None = None
    p99_9: float | None = None
    mean: float | None = None
    min: float | None = None
    max: float | None = None


@dataclass(slots=True)
class Cpu(Section):
    """The whole process over the timed run: cores busy in user and kernel mode, page faults."""

    seconds: float | None = None
    user_cores: float | None = None
    system_cores: float | None = None
    minor_faults_per_s: float | None = None
    major_faults: int | None = None


@dataclass(slots=True)
class Latencies(Section):
    """The per-query latencies file in the run directory (float32 ms)."""

    file: str | None = None
    count: int | None = None
    unit: str | None = None
    source: str | None = None


@dataclass(slots=True)
class Performance(Section):
    """The performance run, as LoadGen's detail log says (bench/record/loadgen_log.py)."""

    valid: bool | None = field(default=None, metadata={"required": True})
    loadgen_validity: str | None = None
    invalid_reasons: list[str] = field(default_factory=list)
    result_metric: Metric | None = field(default=None, metadata={"required": True})
    secondary: list[Metric] = field(default_factory=list)
    samples_per_second: float | None = None
    latency_ms: Latency | None = None
    samples: int | None = None
    queries: int | None = None
    samples_per_query: int | None = None
    duration_s: float | None = None
    power_window: list[str | None] | None = None
    min_duration_met: bool | None = None
    min_queries_met: bool | None = None
    early_stopping_met: bool | None = None
    target_qps: float | None = None
    target_latency_ms: float | None = None
    loadgen_version: str | None = None
    seeds: dict[str, int | None] | None = None
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cpu: Cpu | None = later()
    latencies: Latencies | None = later()
    data_path: dict[str, Any] | None = later("the form and copies the timed batches really took (bench/run/sut.py)")
    issue_lag: dict[str, Any] | None = later("Server: LoadGen's latency against the SUT's, and which missed the bound")
    per_device: list[dict[str, Any]] | None = later("multi-GPU runs: each device's samples")
    server_time: dict[str, Any] | None = later("remote runs: the mean request split into the server's queue, "
                                               "compute_input, infer, compute_output and the rest (network, "
                                               "serialisation, client), or why the server gave none")
