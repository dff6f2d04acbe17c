"""The report's columns, declared once: results.csv's columns in order, the page's summary table and `bench compare`'s
rows are all read from COLUMNS. Each column names the record fields it reads (dotted paths into
bench/record/schema.py's Record; tests/test_record_schema.py checks that each one is declared there).

A new report column: one field in schema.py, one Column here. `shown` places it in the page's summary table,
`compare` among `bench compare`'s rows (shown as text, or, with `better`, as a number with its ratio to the first).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bench import scenarios

PERCENTILES = ("p50", "p90", "p95", "p97", "p99", "p99_9")
ABSENT = object()


def get(record, path: str):
    """The value at a dotted path of a JSON record; ABSENT where a key is missing (null is a value)."""
    value = record
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return ABSENT
        value = value[key]
    return value


@dataclass(frozen=True)
class Column:
    name: str  # the DataFrame's and results.csv's column
    key: tuple[str, ...]  # record fields read: without `derive`, the value of the first present
    heading: str | None = None  # shown in the summary table and by `bench compare`
    unit: str | None = None
    format: Literal["text", "number", "yes/no"] = "text"
    shown: int | None = None  # its place in the page's summary table
    compare: int | None = None  # its place among `bench compare`'s rows
    better: Literal["higher", "lower"] | None = None  # a number to compare: ratios coloured by this; None: text
    derive: Callable[..., object] | None = None  # computed from the (JSON) record and its run directory

    def value(self, record: dict, run_dir: Path):
        if self.derive is not None:
            return self.derive(record, run_dir)
        return next((v for v in (get(record, k) for k in self.key) if v is not ABSENT), None)


def _synthetic(r: dict, _=None) -> bool:
    cfg, acc = r["config"], r.get("accuracy") or {}
    return bool(cfg.get("synthetic_weights") or cfg.get("synthetic_data") or acc.get("synthetic"))


def _server_time(r: dict, _=None) -> str | None:
    """Remote runs: where the server/client split came from, or why there is none; other runs: nothing."""
    split = get(r, "performance.server_time")
    if not isinstance(split, dict):
        return None
    return split.get("source") if split.get("available") else f"none: {split.get('reason')}"


def _validity(r: dict, _=None) -> str:
    perf = r.get("performance") or {}
    return "no performance run" if not perf else ("VALID" if perf.get("valid") else "INVALID")


def _accuracy(r: dict, _=None) -> str:
    acc = r.get("accuracy") or {}
    if not acc:
        return "not run"
    return "synthetic" if acc.get("synthetic") or _synthetic(r) else acc.get("verdict") or "no reference"


def _metric(field: str) -> Callable[..., object]:
    """The headline as the scenario defines it (schema-1 records: what they carried, named as such)."""
    def read(r: dict, _=None):
        metric = scenarios.headline(r) or {}
        if field == "better":
            better = metric.get("higher_is_better")
            return None if better is None else ("higher" if better else "lower")
        return metric.get(field)
    return read


def _or(*paths: str, default=None) -> Callable[..., object]:
    """The first of `paths` that is set (not null, not empty), else `default`."""
    return lambda r, _=None: next((v for v in (get(r, p) for p in paths) if v is not ABSENT and v), default)


def _join(path: str, item: Callable = str) -> Callable[..., object]:
    def read(r: dict, _=None) -> str:
        values = get(r, path)
        return "; ".join(item(v) for v in values or [] if item is str or isinstance(v, dict)) \
            if values is not ABSENT else ""
    return read


def _shown_system(r: dict, _=None) -> str:
    return str(_or("system.system_name", "config.system_name", default="unknown")(r))


def C(name: str, *key: str, **kw) -> Column:  # noqa: N802 - reads as a table
    return Column(name, key or (name,), **kw)


N = {"format": "number"}
COLUMNS: list[Column] = [
    C("run_id", "run_id", heading="run", shown=20),
    C("run_dir", derive=lambda r, d: str(d)),
    C("status", heading="status", shown=19),
    C("started_at"),
    C("system", "system.system_name", "config.system_name", heading="system", shown=0, compare=0,
      derive=_shown_system),
    C("backend", "config.backend", heading="backend", shown=1, compare=1),
    C("device", "backend.device", "config.device", heading="device", shown=2, compare=2),
    C("precision", "backend.precision", "config.precision", heading="precision", shown=3, compare=3),
    C("scenario", "config.scenario", heading="scenario", shown=4, compare=4),
    C("model", "config.onnx", "model.name", "config.model", heading="model", shown=5, compare=5,
      derive=lambda r, _: get(r, "model.name") if get(r, "config.onnx") else r["config"].get("model")),
    C("batch_size", "scenario.batch_size", "config.batch_size", heading="batch", shown=6, compare=6,
      derive=_or("scenario.batch_size", "config.batch_size")),  # the batch actually issued
    C("threads", "backend.threads", "config.threads"),
    C("profile", "config.profile"),
    C("synthetic", "config.synthetic_weights", "config.synthetic_data", "accuracy.synthetic", format="yes/no",
      derive=_synthetic),
    C("data", "config.synthetic_weights", "config.synthetic_data", "accuracy.synthetic", heading="data", shown=14,
      compare=9, derive=lambda r, _: "synthetic" if _synthetic(r) else "real"),
    C("metric", "performance.result_metric.name", heading="MLPerf metric", shown=7, derive=_metric("name")),
    C("metric_value", "performance.result_metric.value", heading="value", shown=8, **N, derive=_metric("value")),
    C("metric_unit", "performance.result_metric.unit", heading="unit", shown=9, derive=_metric("unit")),
    C("metric_better", "performance.result_metric.higher_is_better", derive=_metric("better")),
    C("metric_key", "performance.result_metric.key", derive=_metric("key")),
    C("schema"),
    C("samples_per_second", "performance.samples_per_second", heading="samples/s", unit="samples/s", shown=10,
      compare=10, better="higher", **N),
    C("valid", "performance.valid", format="yes/no",
      derive=lambda r, _: (r.get("performance") or {}).get("valid") if r.get("performance") else None),
    C("validity", "performance.valid", heading="LoadGen", shown=11, compare=7, derive=_validity),
    C("invalid_reasons", "performance.invalid_reasons", derive=_join("performance.invalid_reasons")),
    C("samples", "performance.samples", **N),
    C("duration_s", "performance.duration_s", unit="s", **N),
    C("target_qps", "performance.target_qps", **N),
    *(C(f"latency_{p}_ms", f"performance.latency_ms.{p}", unit="ms", **N,
        **({"heading": f"{p} ms", "compare": {"p50": 11, "p90": 12, "p99": 13}[p], "better": "lower"}
           if p in ("p50", "p90", "p99") else {}),
        **({"shown": {"p50": 17, "p99": 18}[p]} if p in ("p50", "p99") else {}))
      for p in (*PERCENTILES, "mean", "min", "max")),
    C("accuracy", "accuracy.verdict", heading="accuracy", shown=12, compare=8, derive=_accuracy),
    C("top1", "accuracy.top1", heading="top-1", shown=13, compare=16, better="higher", **N),
    C("accuracy_count", "accuracy.count", **N),
    C("power_available", "power.available", format="yes/no", derive=lambda r, _: bool(_or("power.available")(r))),
    C("power_source", "power.source"),
    C("avg_watts", "power.avg_watts", heading="watts", unit="W", shown=15, compare=14, better="lower", **N),
    C("max_watts", "power.max_watts", unit="W", **N),
    C("energy_j", "power.energy_j", unit="J", **N),
    C("joules_per_sample", "power.joules_per_sample", unit="J", **N),
    C("samples_per_second_per_watt", "power.samples_per_second_per_watt", heading="samples/s/W", shown=16,
      compare=15, better="higher", **N),
    C("cpu", "system.cpu"),
    C("cores", "system.cores", **N),
    C("memory_gb", "system.memory_gb", unit="GB", **N),
    C("gpus", "system.gpus", derive=_join("system.gpus", lambda g: str(g.get("name")))),
    C("os", "system.os_name", "system.os", derive=_or("system.os_name", "system.os")),
    C("python", "system.python"),
    C("loadgen_version", "performance.loadgen_version"),
    C("error"),
    # issue 27: the cost of getting there, per run, never part of the measured figures (bench/record/schema.py Timing)
    C("load_s", "timing.load_s", heading="load s", unit="s", shown=21, compare=17, better="lower", **N),
    C("compile_s", "timing.compile_s", heading="compile s", unit="s", shown=22, compare=18, better="lower", **N),
    C("warmup_s", "timing.warmup_s", heading="warm-up s", unit="s", shown=23, compare=19, better="lower", **N),
    C("first_call_s", "timing.first_call_s", heading="first call s", unit="s", compare=20, better="lower", **N),
    # issue 26: remote runs' endpoints and the mean request's time, the server's phases beside the rest
    C("endpoints", "backend.endpoints", heading="endpoints", compare=21, derive=_join("backend.endpoints")),
    C("server_time", "performance.server_time.available", heading="server time", compare=22,
      derive=_server_time),
    *(C(f"server_{phase}_ms", f"performance.server_time.{phase}_ms", heading=f"{label} ms", unit="ms",
        compare=23 + i, better="lower", **N)
      for i, (phase, label) in enumerate((("queue", "server queue"), ("compute_input", "server input"),
                                          ("infer", "server infer"), ("compute_output", "server output"),
                                          ("other", "network+client")))),
]
BY_NAME = {c.name: c for c in COLUMNS}
SUMMARY = sorted((c for c in COLUMNS if c.shown is not None), key=lambda c: c.shown or 0)
COMPARED = sorted((c for c in COLUMNS if c.compare is not None), key=lambda c: c.compare or 0)
COMPARE_TEXT = [c for c in COMPARED if c.better is None]
COMPARE_RATIO = [c for c in COMPARED if c.better is not None]
