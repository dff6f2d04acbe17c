"""Reading LoadGen's own verdict and figures from mlperf_log_detail.txt (never recomputed by hand)."""

from __future__ import annotations

import json
from pathlib import Path

PREFIX = ":::MLLOG "
PERCENTILES = {"p50": "50.00", "p90": "90.00", "p95": "95.00", "p97": "97.00", "p99": "99.00", "p99_9": "99.90"}
# The metric MLPerf reports for each scenario, as LoadGen logs it.
METRICS = {
    "offline": ("result_samples_per_second", "samples_per_second"),
    "server": ("result_scheduled_samples_per_sec", "scheduled_samples_per_second"),
    "single-stream": ("result_90.00_percentile_latency_ns", "p90_latency_ms"),
}


def read_detail(path: str | Path) -> dict:
    """key -> value for every :::MLLOG line (the last value wins); errors and warnings collected apart."""
    values: dict = {"_errors": [], "_warnings": []}
    for line in Path(path).read_text(errors="replace").splitlines():
        if not line.startswith(PREFIX):
            continue
        try:
            entry = json.loads(line[len(PREFIX):])
        except json.JSONDecodeError:
            continue  # a log cut short by an interrupt ends in half a line
        values[entry["key"]] = entry["value"]
        meta = entry.get("metadata", {})
        if meta.get("is_error"):
            values["_errors"].append(str(entry["value"]))
        elif meta.get("is_warning"):
            values["_warnings"].append(str(entry["value"]))
    return values


def performance(detail: dict, scenario: str) -> dict:
    """The record's performance section from a parsed detail log."""
    ms = lambda key: None if detail.get(key) is None else detail[key] / 1e6  # noqa: E731
    latency = {name: ms(f"result_{p}_percentile_latency_ns") for name, p in PERCENTILES.items()}
    latency["mean"] = ms("result_mean_latency_ns")
    latency["min"] = ms("result_min_latency_ns")
    latency["max"] = ms("result_max_latency_ns")
    key, metric_name = METRICS[scenario]
    value = ms(key) if key.endswith("_ns") else detail.get(key)
    if scenario == "server":
        sps = detail.get("result_completed_samples_per_sec")
    elif scenario == "offline":
        sps = detail.get("result_samples_per_second")
    else:
        sps = detail.get("result_qps_with_loadgen_overhead")
    samples = detail.get("result_query_count")
    if scenario == "offline":
        samples = detail.get("generated_query_count", 0) * detail.get("generated_samples_per_query", 1) or samples
    validity = detail.get("result_validity", "UNKNOWN")
    reasons = invalid_reasons(detail) if validity != "VALID" else []
    return {
        "valid": validity == "VALID",
        "loadgen_validity": validity,
        "invalid_reasons": reasons,
        "result_metric": {"name": metric_name, "value": value},
        "samples_per_second": sps,
        "latency_ms": latency,
        "samples": samples,
        "queries": detail.get("result_query_count"),
        "duration_s": (detail.get("result_min_duration_met") is not None and _duration(detail)) or None,
        "min_duration_met": detail.get("result_min_duration_met"),
        "min_queries_met": detail.get("result_min_queries_met"),
        "early_stopping_met": detail.get("early_stopping_met"),
        "target_qps": detail.get("effective_target_qps"),
        "target_latency_ms": ms("effective_target_latency_ns"),
        "loadgen_version": detail.get("loadgen_version"),
        "warnings": detail["_warnings"],
    }


def _duration(detail: dict) -> float | None:
    qps, count = detail.get("result_qps_with_loadgen_overhead"), detail.get("result_query_count")
    return count / qps if qps and count else None


def invalid_reasons(detail: dict) -> list[str]:
    """LoadGen's own words for why a run is INVALID, with the checks it failed spelled out."""
    reasons = [detail["result_invalid_reason"].strip()] if (detail.get("result_invalid_reason") or "").strip() else []
    if detail.get("result_perf_constraints_met") is False:
        reasons.append(f"latency bound missed: {detail.get('result_overlatency_query_count', '?')} queries over "
                       f"{(detail.get('effective_target_latency_ns') or 0) / 1e6:g} ms at the target percentile")
    if detail.get("result_min_duration_met") is False:
        reasons.append("minimum duration not met")
    if detail.get("result_min_queries_met") is False:
        reasons.append("minimum query count not met")
    if detail.get("early_stopping_met") is False:
        reasons.append("early stopping not met: " + " ".join(str(detail.get("early_stopping_result", "")).split()))
    return reasons + [e for e in detail["_errors"] if e not in reasons]
