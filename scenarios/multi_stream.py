"""MultiStream: each query carries 8 samples (MLPerf's figure for ResNet-50), the next issued when the previous
completes; the 8 run as one batch on LoadGen's thread.

MLPerf's metric: the early-stopping estimate of the 99th-percentile query latency (`early_stopping_latency_ms`);
p99 itself is shown beside it."""

from __future__ import annotations

from scenarios.base import SIZING_HEADROOM, P99, Estimate, Figure, Scenario, TuneTarget

SAMPLES_PER_QUERY = 8
# The fewest queries for which LoadGen's early stopping gives a p99 estimate: with fewer, LoadGen 6.0 says "Need to
# process at least 662 queries for early stopping" and the run is INVALID (mlperf.conf asks for 662 too).
QUICK_QUERIES = 662


class MultiStream(Scenario):
    name = "multi-stream"
    loadgen_name = "MultiStream"
    metric = Figure("early_stopping_latency_ms", "early-stopping p99 latency", "ms", False)
    secondary = (P99,)
    intent = "latency"
    suites = ("edge",)
    audit_noise_ns = 1_600_000
    # LoadGen sizes the query count from the expected (mean) latency: a lower figure only lengthens a run.
    tune = TuneTarget("target_latency", "measure", figure="mean", headroom=1 / SIZING_HEADROOM)
    conf_keys = {"multi_stream_expected_latency_ns": {"target_latency"}}
    advice = "give a longer --duration, or check that the expected latency is right"

    def backend_batch(self, cfg) -> int:
        return SAMPLES_PER_QUERY

    def quick_settings(self, cfg, estimate: Estimate) -> dict:
        query_s = estimate.single_latency_s * SAMPLES_PER_QUERY
        return {"min_query_count": QUICK_QUERIES, "multi_stream_samples_per_query": SAMPLES_PER_QUERY,
                "multi_stream_expected_latency_ns": int(query_s * 1e9)}

    def conf_lines(self, model: str, perf: dict) -> list[str]:
        latency = perf.get("target_latency_ms")
        return [f"{model}.MultiStream.target_latency = {latency:g}"] if latency else []

    def start(self, responder, cfg):
        import numpy as np  # here: the CLI reads the registry without numpy

        run = responder.run

        # One query = one batch of 8, on LoadGen's thread (the next query waits for this one anyway).
        def issue(ids: list[int], indices: list[int]):
            run(ids, np.array(indices, dtype=np.int64))

        return issue, lambda: None
