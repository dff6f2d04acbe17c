"""Offline: LoadGen hands over every sample at once; worker threads run them in batches of --batch-size."""

from __future__ import annotations

import numpy as np

from scenarios.base import Estimate, Scenario

OVERESTIMATE = 1.5


class Offline(Scenario):
    name = "offline"
    loadgen_name = "Offline"

    def quick_settings(self, cfg, estimate: Estimate) -> dict:
        # Over-estimate: too few samples end the run before the minimum duration (INVALID); too many only lengthen it.
        return {"min_query_count": 1, "offline_expected_qps": estimate.samples_per_second * OVERESTIMATE}

    def explicit_settings(self, cfg) -> dict:
        return {} if cfg.target_qps is None else {"offline_expected_qps": cfg.target_qps}

    def start(self, responder, cfg):
        put, batch_size = self.start_workers(responder).put, cfg.batch_size

        def issue(ids: list[int], indices: list[int]):
            # LoadGen's fast SUT hands plain id and index lists: no Python object per sample to unpack.
            indices = np.array(indices, dtype=np.int64)
            for start in range(0, len(ids), batch_size):
                put((ids[start:start + batch_size], indices[start:start + batch_size]))

        return issue, lambda: None

    def work(self, responder) -> None:
        while (item := self.queue.get()) is not None:
            responder.run(*item)
