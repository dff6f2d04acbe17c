"""SingleStream: one sample per query, the next issued when the previous completes; metric p90 latency."""

from __future__ import annotations

import numpy as np

from scenarios.base import Estimate, Scenario


class SingleStream(Scenario):
    name = "single-stream"
    loadgen_name = "SingleStream"

    def quick_settings(self, cfg, estimate: Estimate) -> dict:
        # 64 queries is the least for which LoadGen's early-stopping estimate of p90 holds.
        return {"min_query_count": 64, "single_stream_expected_latency_ns": int(estimate.single_latency_s * 1e9)}

    def start(self, responder, cfg):
        run = responder.run

        # Answered on LoadGen's thread: a hand-off to a worker would only add latency to every query.
        def issue(ids: list[int], indices: list[int]):
            run(ids, np.array(indices, dtype=np.int64))

        return issue, lambda: None
