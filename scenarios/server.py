"""Server: Poisson arrivals at --target-qps; worker threads batch dynamically (up to --batch-size samples,
waiting at most --max-wait-ms for a batch to fill) so LoadGen's issue thread never blocks."""

from __future__ import annotations

import queue
import time

import numpy as np

from scenarios.base import Estimate, Scenario

# Without --target-qps, ask for this share of the throughput measured in warm-up: a Server run near
# 100% of Offline throughput queues without bound and cannot meet a latency bound.
DEFAULT_LOAD = 0.5


class Server(Scenario):
    name = "server"
    loadgen_name = "Server"

    def quick_settings(self, cfg, estimate: Estimate) -> dict:
        # 460 queries is the least for which LoadGen's early stopping can confirm a p99 bound (0.99^n <= 0.01).
        return {"min_query_count": 460, "server_target_qps": estimate.samples_per_second * DEFAULT_LOAD,
                "server_target_latency_ns": int(cfg.latency_bound * 1e6)}

    def explicit_settings(self, cfg) -> dict:
        # Only a bound given on the command line overrides a user.conf's target_latency: a CLI default never does.
        settings = {} if cfg.latency_bound_ms is None else {"server_target_latency_ns": int(cfg.latency_bound_ms * 1e6)}
        if cfg.target_qps is not None:
            settings["server_target_qps"] = cfg.target_qps
        return settings

    def start(self, responder, cfg):
        self.batch_size, self.max_wait = cfg.batch_size, cfg.max_wait_ms / 1000
        put = self.start_workers(responder).put

        def issue(ids: list[int], indices: list[int]):
            for item in zip(ids, indices):
                put(item)

        return issue, lambda: None

    def work(self, responder) -> None:
        pending = self.queue
        get, size, max_wait = pending.get, self.batch_size, self.max_wait
        while (first := get()) is not None:
            batch = [first]
            deadline = time.perf_counter() + max_wait
            while len(batch) < size:
                timeout = deadline - time.perf_counter()
                try:
                    item = get(timeout=timeout) if timeout > 0 else pending.get_nowait()
                except queue.Empty:
                    break
                if item is None:  # shutting down: finish this batch, then stop
                    pending.put(None)
                    break
                batch.append(item)
            ids = [i for i, _ in batch]
            responder.run(ids, np.fromiter((x for _, x in batch), dtype=np.int64, count=len(batch)))
