"""MultiStream: each query carries 8 samples (MLPerf's figure for ResNet-50), the next issued when the previous
completes; the 8 run as one batch on LoadGen's thread, as SingleStream runs its one.

MLPerf's metric: the early-stopping estimate of the 99th-percentile query latency (`early_stopping_latency_ms`);
p99 itself is shown beside it."""

from __future__ import annotations

from bench.scenarios.base import P99, Estimate, Figure
from bench.scenarios.single_stream import SingleStream

SAMPLES_PER_QUERY = 8
# The fewest queries for which LoadGen's early stopping gives a p99 estimate: with fewer, LoadGen 6.0 says "Need to
# process at least 662 queries for early stopping" and the run is INVALID (mlperf.conf asks for 662 too).
QUICK_QUERIES = 662


class MultiStream(SingleStream):
    """SingleStream's dispatch, intent, suites and tune target, with queries of 8 samples and a p99 metric."""

    name = "multi-stream"
    loadgen_name = "MultiStream"
    metric = Figure("early_stopping_latency_ms", "early-stopping p99 latency", "ms", False)
    secondary = (P99,)
    audit_noise_ns = 1_600_000
    conf_keys = {"multi_stream_expected_latency_ns": {"target_latency"}}

    def backend_batch(self, cfg) -> int:
        return SAMPLES_PER_QUERY

    def quick_settings(self, cfg, estimate: Estimate) -> dict:
        query_s = estimate.single_latency_s * SAMPLES_PER_QUERY
        return {"min_query_count": QUICK_QUERIES, "multi_stream_samples_per_query": SAMPLES_PER_QUERY,
                "multi_stream_expected_latency_ns": int(query_s * 1e9)}

    def scheduled_samples(self, ts) -> float:
        # Queries of N samples, one per expected latency.
        queries = ts.min_duration_ms / 1000 / max(ts.multi_stream_expected_latency_ns / 1e9, 1e-9)
        return queries * ts.multi_stream_samples_per_query
