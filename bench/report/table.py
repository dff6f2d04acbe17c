"""Result records as one flat pandas DataFrame: a row per run, every column a scalar (what results.csv holds)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import scenarios
from bench.record import results

PERCENTILES = ("p50", "p90", "p95", "p97", "p99", "p99_9")
# The summary table's columns: DataFrame column -> heading.
SUMMARY = {
    "system": "system", "backend": "backend", "device": "device", "precision": "precision", "scenario": "scenario",
    "model": "model", "batch_size": "batch", "metric": "MLPerf metric", "metric_value": "value", "metric_unit": "unit",
    "samples_per_second": "samples/s", "validity": "LoadGen", "accuracy": "accuracy", "top1": "top-1",
    "data": "data", "avg_watts": "watts", "samples_per_second_per_watt": "samples/s/W",
    "latency_p50_ms": "p50 ms", "latency_p99_ms": "p99 ms", "status": "status", "run_id": "run",
}


def load_runs(paths) -> tuple[list[tuple[Path, dict]], list[str]]:
    """(run_dir, record) for every run found under `paths`, and one line per record that could not be read.

    The records' text as written: a CSV field carries a newline or a tab (a system name holding one round-trips
    into results.csv); the page and the terminal take control characters out where they show text."""
    return results.load_records(paths, check=row, clean=False)  # issue 18: a record row() cannot read is skipped


def _get(d, *keys):
    for key in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def row(run_dir: Path, record: dict) -> dict:
    """One run as flat columns (all scalars): what the CSV and the page show."""
    cfg, perf = record["config"], record.get("performance") or {}
    system, backend = record.get("system") or {}, record.get("backend") or {}
    acc, power = record.get("accuracy") or {}, record.get("power") or {}
    synthetic = bool(cfg.get("synthetic_weights") or cfg.get("synthetic_data") or acc.get("synthetic"))
    if not perf:
        validity = "no performance run"
    else:
        validity = "VALID" if perf.get("valid") else "INVALID"
    if not acc:
        accuracy = "not run"
    elif acc.get("synthetic") or synthetic:
        accuracy = "synthetic"
    else:
        accuracy = acc.get("verdict") or "no reference"
    flat = {
        "run_id": record["run_id"],
        "run_dir": str(run_dir),
        "status": record.get("status"),
        "started_at": record.get("started_at"),
        "system": str(system.get("system_name") or cfg.get("system_name") or "unknown"),
        "backend": cfg.get("backend"),
        "device": backend.get("device", cfg.get("device")),
        "precision": backend.get("precision", cfg.get("precision")),
        "scenario": cfg.get("scenario"),
        "model": _get(record, "model", "name") if cfg.get("onnx") else cfg.get("model"),  # the file's own name
        "batch_size": _get(record, "scenario", "batch_size") or cfg.get("batch_size"),  # the batch actually issued
        "threads": backend.get("threads", cfg.get("threads")),
        "profile": cfg.get("profile"),
        "synthetic": synthetic,
        "data": "synthetic" if synthetic else "real",
        **metric_columns(record),
        "samples_per_second": perf.get("samples_per_second"),
        "valid": perf.get("valid") if perf else None,
        "validity": validity,
        "invalid_reasons": "; ".join(perf.get("invalid_reasons") or []),
        "samples": perf.get("samples"),
        "duration_s": perf.get("duration_s"),
        "target_qps": perf.get("target_qps"),
        **{f"latency_{p}_ms": _get(perf, "latency_ms", p) for p in (*PERCENTILES, "mean", "min", "max")},
        "accuracy": accuracy,
        "top1": acc.get("top1"),
        "accuracy_count": acc.get("count"),
        "power_available": bool(power.get("available")),
        "power_source": power.get("source"),
        "avg_watts": power.get("avg_watts"),
        "max_watts": power.get("max_watts"),
        "energy_j": power.get("energy_j"),
        "joules_per_sample": power.get("joules_per_sample"),
        "samples_per_second_per_watt": power.get("samples_per_second_per_watt"),
        "cpu": system.get("cpu"),
        "cores": system.get("cores"),
        "memory_gb": system.get("memory_gb"),
        "gpus": "; ".join(str(g.get("name")) for g in system.get("gpus") or [] if isinstance(g, dict)),
        "os": system.get("os_name") or system.get("os"),
        "python": system.get("python"),
        "loadgen_version": perf.get("loadgen_version"),
        "error": record.get("error"),
    }
    flat["label"] = label(flat)
    return flat


def metric_columns(record: dict) -> dict:
    """The headline metric as the scenario defines it (schema-1 records: what they carried, named as such)."""
    metric = scenarios.headline(record) or {}
    better = metric.get("higher_is_better")
    return {"metric": metric.get("name"), "metric_value": metric.get("value"), "metric_unit": metric.get("unit"),
            "metric_better": None if better is None else ("higher" if better else "lower"),
            "metric_key": metric.get("key"), "schema": record.get("schema")}


def label(r: dict) -> str:
    """How a run is named in charts: unmistakably marked when INVALID or synthetic."""
    marks = [m for m, on in (("INVALID", r["validity"] == "INVALID"), ("synthetic", r["synthetic"]),
                             (str(r["status"]), r["status"] != "complete")) if on]
    return (f"{r['system']} · {r['backend']} {r['precision']} · {r['scenario']} · {r['run_id'][-4:]}"
            + (f" [{', '.join(marks)}]" if marks else ""))


def frame(runs: list[tuple[Path, dict]]) -> pd.DataFrame:
    df = pd.DataFrame([row(d, r) for d, r in runs])
    if len(df):
        df = df.sort_values(["scenario", "system", "backend", "precision", "started_at"], na_position="last",
                            kind="stable").reset_index(drop=True)
    return df
