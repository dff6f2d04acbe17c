"""SingleStream: one sample per query, the next issued when the previous completes.

MLPerf's metric: the early-stopping estimate of the 90th-percentile latency (`early_stopping_latency_ss`), which
is never below the measured p90 and is what the submission checker reads; p90 itself is shown beside it."""

from __future__ import annotations

from bench.scenarios.base import P90, P99, SIZING_HEADROOM, Dispatcher, Estimate, Figure, Scenario, TuneTarget


class SingleStream(Scenario):
    name = "single-stream"
    loadgen_name = "SingleStream"
    metric = Figure("early_stopping_latency_ss", "early-stopping p90 latency", "ms", False)
    secondary: tuple[Figure, ...] = (P90, P99)
    intent = "latency"
    suites = ("edge",)
    audit_noise_ns = 200_000
    # LoadGen sizes the query count from the expected (mean) latency: a lower figure only lengthens a run.
    tune = TuneTarget("target_latency", "measure", figure="mean", headroom=1 / SIZING_HEADROOM)
    conf_keys = {"single_stream_expected_latency_ns": {"target_latency"}}
    advice = "give a longer --duration, or check that the expected latency is right"

    def backend_batch(self, cfg) -> int:
        return 1

    def quick_settings(self, cfg, estimate: Estimate) -> dict:
        # 64 queries is the least for which LoadGen's early-stopping estimate of p90 holds.
        return {"min_query_count": 64, "single_stream_expected_latency_ns": int(estimate.single_latency_s * 1e9)}

    def conf_lines(self, model: str, perf: dict) -> list[str]:
        latency = perf.get("target_latency_ms")
        return [f"{model}.{self.loadgen_name}.target_latency = {latency:g}"] if latency else []

    def scheduled_samples(self, ts) -> float:
        # One query of one sample per expected latency.
        return ts.min_duration_ms / 1000 / max(ts.single_stream_expected_latency_ns / 1e9, 1e-9)

    def start(self, responder, cfg) -> Dispatcher:
        import numpy as np  # here: the CLI reads the registry without numpy

        run = responder.run

        # Answered on LoadGen's thread (the next query waits for this one anyway): a hand-off to a worker would
        # only add latency to every query.
        def issue(ids: list[int], indices: list[int]):
            run(ids, np.array(indices, dtype=np.int64))

        return Dispatcher(issue)  # no workers: nothing to stop
