"""What the statistics read from a result record: its configuration id, headline figures, versions and identity.

The one place that knows the record's layout for bench/stats and bench/index (records come from
bench/record/results.py's readers), so a change of the record's shape is adapted here only.
"""

from __future__ import annotations

import hashlib
import json
import math

# Fields of a run's config that say where or how it was written, not what was measured: two runs differing only in
# these are the same configuration.
NOT_CONFIG = ("output", "system_name", "strict")
# Headline figures besides MLPerf's own metric: (name, path in performance, unit, higher is better).
FIGURES = (
    ("samples_per_second", ("samples_per_second",), "samples/s", True),
    ("latency_p50_ms", ("latency_ms", "p50"), "ms", False),
    ("latency_p90_ms", ("latency_ms", "p90"), "ms", False),
    ("latency_p99_ms", ("latency_ms", "p99"), "ms", False),
)
METRIC = "metric"  # MLPerf's headline figure of the scenario, whatever its key


def _get(d, *keys):
    for key in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def config_id(config: dict) -> str:
    """A stable 12-hex-digit id of a run's configuration: sha256 of its canonical JSON, less NOT_CONFIG."""
    kept = {k: v for k, v in sorted(config.items()) if k not in NOT_CONFIG}
    text = json.dumps(kept, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def record_config_id(record: dict) -> str:
    """The id a repeat series recorded, else the one its config hashes to (records written before repeats)."""
    return _get(record, "repeat", "config_id") or config_id(record.get("config") or {})


def repeat(record: dict) -> dict | None:
    """The record's `repeat` block ({config_id, index, of, ...}); None for a single run."""
    block = record.get("repeat")
    return block if isinstance(block, dict) else None


def system(record: dict) -> str:
    return str(_get(record, "system", "system_name") or _get(record, "config", "system_name") or "unknown")


def scenario(record: dict) -> str | None:
    return _get(record, "config", "scenario")


def _finite(value) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def headline(record: dict) -> dict[str, dict]:
    """name -> {value, unit, higher_is_better, key}: MLPerf's metric ('metric') and FIGURES, those present."""
    perf = record.get("performance") or {}
    found = {}
    metric = perf.get("result_metric") or {}
    if (value := _finite(metric.get("value"))) is not None:
        found[METRIC] = {"value": value, "unit": metric.get("unit"), "key": metric.get("key"),
                         "name": metric.get("name"), "higher_is_better": bool(metric.get("higher_is_better"))}
    for name, path, unit, higher in FIGURES:
        if (value := _finite(_get(perf, *path))) is not None:
            found[name] = {"value": value, "unit": unit, "key": name, "name": name, "higher_is_better": higher}
    return found


def measured(record: dict) -> bool:
    """A complete run with a performance section: the only kind whose figures are compared."""
    return record.get("status") == "complete" and bool(record.get("performance"))


def versions(record: dict) -> dict:
    """bench, backend and (NVIDIA) driver versions: what `bench history` lines a figure up against."""
    gpus = _get(record, "system", "gpus") or []
    drivers = sorted({str(g.get("driver")) for g in gpus if isinstance(g, dict) and g.get("driver")})
    return {"bench": _get(record, "system", "packages", "bench"),
            "backend": _get(record, "backend", "version"),
            "driver": ", ".join(drivers) or None}


def accuracy_identity(record: dict) -> tuple:
    """(model, weights, backend, precision): an accuracy run gates the performance runs that share it."""
    model = record.get("model") or {}
    cfg = record.get("config") or {}
    weights = model.get("weights_id") or model.get("onnx_sha256") or cfg.get("onnx") or cfg.get("weights")
    return (model.get("name") or cfg.get("model"), weights, cfg.get("backend"),
            _get(record, "backend", "precision") or cfg.get("precision"))


def accuracy(record: dict) -> dict | None:
    """The record's accuracy section when it ran one: {verdict, passed, top1}."""
    acc = record.get("accuracy")
    if not isinstance(acc, dict) or not acc:
        return None
    return {"verdict": acc.get("verdict"), "passed": acc.get("passed"), "top1": _finite(acc.get("top1")),
            "synthetic": bool(acc.get("synthetic"))}


def from_index(row: dict) -> dict:
    """The part of a record that the verdicts read, rebuilt from its results-index row (bench/index/store.py), so
    `bench compare --index` reads the index instead of every file. Only what the row holds; nothing invented."""
    rule = {"until_stable": row["until_stable"], "window": row["stable_window"]} if row["until_stable"] else {}
    perf = None
    if row["metric"] is not None:
        perf = {"result_metric": {"key": row["metric_key"], "name": row["metric_name"], "unit": row["metric_unit"],
                                  "higher_is_better": bool(row["higher_is_better"]), "value": row["metric"]},
                "samples_per_second": row["samples_per_second"],
                "latency_ms": {p: row[f"latency_{p}_ms"] for p in ("p50", "p90", "p99")}}
    accuracy = {"verdict": row["accuracy_verdict"], "passed": None if row["accuracy_passed"] is None else
                bool(row["accuracy_passed"]), "synthetic": bool(row["accuracy_synthetic"])} \
        if row["has_accuracy"] else None
    return {
        "run_id": row["run_id"], "status": row["status"], "started_at": row["started_at"],
        "config": {"backend": row["backend"], "precision": row["precision"], "scenario": row["scenario"],
                   "model": row["model"], "mode": row["mode"], "batch_size": row["batch_size"],
                   "threads": row["threads"]},
        "system": {"system_name": row["system"]}, "model": {"name": row["model"], "weights_id": row["weights"]},
        "backend": {"precision": row["precision"]}, "performance": perf, "accuracy": accuracy,
        "repeat": {"config_id": row["config_id"], "series": row["series"], "index": row["repeat_index"],
                   "rule": rule} if row["series"] else None,
    }
