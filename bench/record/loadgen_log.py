"""Reading LoadGen's own verdict and figures from mlperf_log_detail.txt (never recomputed by hand)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from bench.record import codec, schema

PREFIX = ":::MLLOG "
PERCENTILES = {"p50": "50.00", "p90": "90.00", "p95": "95.00", "p97": "97.00", "p99": "99.00", "p99_9": "99.90"}
# LoadGen's wall-clock stamps of the timed run (what MLPerf's power tools slice to), e.g. "11-27-2026 13:59:55.736".
STAMP = "%m-%d-%Y %H:%M:%S.%f"
# A detail log holds settings and results, not one line per query (the trace is off): a few hundred kB at most.
DETAIL_BYTES = 64 * 1024 * 1024


def read_detail(path: str | Path) -> dict:
    """key -> value for every :::MLLOG line (the last value wins); errors and warnings collected apart."""
    values: dict = {"_errors": [], "_warnings": []}
    # Bounded: a copied run directory's log is input (bench submission, audit); a FIFO or /dev/zero is refused.
    for line in codec.read_bounded(Path(path), DETAIL_BYTES).decode(errors="replace").splitlines():
        if not line.startswith(PREFIX):
            continue
        try:
            entry = json.loads(line[len(PREFIX):])
        except json.JSONDecodeError:
            continue  # a log cut short by an interrupt ends in half a line
        if not isinstance(entry, dict) or "key" not in entry or "value" not in entry:
            continue  # not a LoadGen entry: nothing to read from it
        values[entry["key"]] = entry["value"]
        meta = entry.get("metadata") or {}
        if meta.get("is_error"):
            values["_errors"].append(str(entry["value"]))
        elif meta.get("is_warning"):
            values["_warnings"].append(str(entry["value"]))
    return values


def performance(detail: dict, scenario) -> schema.Performance:
    """The record's performance section from a parsed detail log; `scenario` says which field is the headline."""
    ms = lambda key: None if detail.get(key) is None else detail[key] / 1e6  # noqa: E731
    latency = schema.Latency(**{name: ms(f"result_{p}_percentile_latency_ns") for name, p in PERCENTILES.items()},
                             mean=ms("result_mean_latency_ns"), min=ms("result_min_latency_ns"),
                             max=ms("result_max_latency_ns"))
    per_query = detail.get("generated_samples_per_query") or 1  # Offline: its one query holds every sample
    queries = detail.get("result_query_count")
    samples = queries * per_query if queries is not None else None
    # Throughput in samples/s for every scenario (power per sample, charts): LoadGen's own figure where it logs
    # one, else its query rate with overhead times the samples in a query (SingleStream, MultiStream).
    sps = detail.get("result_samples_per_second", detail.get("result_completed_samples_per_sec"))
    if sps is None and detail.get("result_qps_with_loadgen_overhead") is not None:
        sps = detail["result_qps_with_loadgen_overhead"] * per_query
    duration = duration_s(detail)
    if sps is None and samples and duration:  # MultiStream logs no rate: its samples over LoadGen's own window
        sps = samples / duration
    validity = detail.get("result_validity", "UNKNOWN")
    reasons = invalid_reasons(detail) if validity != "VALID" else []
    metric = scenario.metric.measured(scenario.metric.read(detail))
    if metric.value == 0 and not metric.higher_is_better and detail.get("early_stopping_met") is False:
        # LoadGen logs 0 when a run has too few queries for its estimate: no figure, never a 0 ms latency.
        metric.value, metric.logged, metric.note = None, 0, "too few queries for LoadGen's early-stopping estimate"
    return schema.Performance(
        valid=validity == "VALID",
        loadgen_validity=validity,
        invalid_reasons=reasons,
        result_metric=metric,
        secondary=[figure.measured(figure.read(detail)) for figure in scenario.secondary],
        samples_per_second=sps,
        latency_ms=latency,
        samples=samples,
        queries=queries,
        samples_per_query=per_query,
        duration_s=duration,
        power_window=[detail.get("power_begin"), detail.get("power_end")],
        min_duration_met=detail.get("result_min_duration_met"),
        min_queries_met=detail.get("result_min_queries_met"),
        early_stopping_met=detail.get("early_stopping_met"),
        target_qps=detail.get("effective_target_qps"),
        target_latency_ms=ms("effective_target_latency_ns"),
        loadgen_version=detail.get("loadgen_version"),
        seeds={k: detail.get(f"effective_{k}_rng_seed") for k in ("qsl", "sample_index", "schedule")},
        warnings=detail["_warnings"],
        errors=detail["_errors"],
    )


def power_window(detail: dict) -> tuple[float, float] | None:
    """LoadGen's `power_begin`/`power_end` as Unix times, or None where absent.

    LoadGen writes them as local wall-clock time (its DateTimeStringForPower, millisecond resolution), spanning the
    performance run's first issue to its last completion: MLPerf's power tools slice their samples there."""
    try:
        begin, end = (datetime.strptime(detail[k], STAMP).timestamp() for k in ("power_begin", "power_end"))
    except (KeyError, TypeError, ValueError):
        return None
    return begin, end


def duration_s(detail: dict) -> float | None:
    """The timed run's wall-clock length: LoadGen's power window."""
    window = power_window(detail)
    return None if window is None else window[1] - window[0]


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
