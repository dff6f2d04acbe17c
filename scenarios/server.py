"""Server: Poisson arrivals at --target-qps; worker threads batch dynamically (up to --batch-size samples,
waiting at most --max-wait-ms for a batch to fill) so LoadGen's issue thread never blocks.

MLPerf's metric: completed samples/s (`result_completed_samples_per_sec`), VALID only if the p99 latency bound
holds; the scheduled rate (what was asked for) is shown beside it."""

from __future__ import annotations

import queue
import time

from bench.scenarios.base import P99, Dispatcher, Estimate, Figure, Scenario, TuneTarget, WorkerPool

# Without --target-qps, ask for this share of the throughput measured in warm-up: a Server run near
# 100% of Offline throughput queues without bound and cannot meet a latency bound.
DEFAULT_LOAD = 0.5
# The fewest queries for which LoadGen's early stopping can confirm a p99 bound (0.99^n <= 0.01).
QUICK_QUERIES = 460


class Server(Scenario):
    name = "server"
    loadgen_name = "Server"
    metric = Figure("result_completed_samples_per_sec", "completed samples/s", "samples/s", True)
    secondary = (Figure("result_scheduled_samples_per_sec", "scheduled samples/s", "samples/s", True), P99)
    intent = "throughput"
    suites = ("datacenter",)
    tune = TuneTarget("target_qps", "qps-under-bound")
    conf_keys = {"server_target_qps": {"target_qps"}, "server_target_latency_ns": {"target_latency"}}
    advice = "lower --target-qps, raise --latency-bound-ms, or use a smaller --batch-size / --max-wait-ms"
    has_latency_bound = True
    joins_queries = True

    def warmup_batches(self, cfg) -> list[int]:
        # The batcher forms every size from 1 to --batch-size: each shape's first call (kernels, memory plans,
        # cuDNN's search) belongs in the warm-up, not in the timed run's p99.
        return list(range(1, cfg.batch_size + 1))

    def quick_settings(self, cfg, estimate: Estimate) -> dict:
        return {"min_query_count": QUICK_QUERIES, "server_target_qps": estimate.samples_per_second * DEFAULT_LOAD,
                "server_target_latency_ns": int(cfg.latency_bound * 1e6)}

    def explicit_settings(self, cfg) -> dict:
        # Only a bound given on the command line overrides a user.conf's target_latency: a CLI default never does.
        settings = {} if cfg.latency_bound_ms is None else {"server_target_latency_ns": int(cfg.latency_bound_ms * 1e6)}
        if cfg.target_qps is not None:
            settings["server_target_qps"] = cfg.target_qps
        return settings

    def conf_lines(self, model: str, perf: dict) -> list[str]:
        lines = [f"{model}.Server.target_qps = {perf['target_qps']:g}"] if perf.get("target_qps") else []
        if perf.get("target_latency_ms"):
            # LoadGen reads Server's target_latency as whole milliseconds.
            lines.append(f"{model}.Server.target_latency = {max(1, round(perf['target_latency_ms']))}")
        return lines

    def scheduled_samples(self, ts) -> float:
        return ts.server_target_qps * ts.min_duration_ms / 1000

    def start(self, responder, cfg) -> Dispatcher:
        size, max_wait = cfg.batch_size, cfg.max_wait_ms / 1000
        workers = WorkerPool(lambda pending: batch_and_run(responder, pending, size, max_wait),
                             responder.backend.concurrency, self.name)
        put = workers.queue.put

        def issue(ids: list[int], indices: list[int]):
            for item in zip(ids, indices):
                put(item)

        return Dispatcher(issue, workers)


def batch_and_run(responder, pending: queue.SimpleQueue, size: int, max_wait: float) -> None:
    """A worker's loop: take up to `size` samples, waiting at most `max_wait` seconds after the first, and run them."""
    import numpy as np  # here: the CLI reads the registry without numpy

    get = pending.get
    # An asynchronous device (sim) says when it can take the next batch: collecting until then puts every sample
    # that arrived meanwhile into it (batches grow with the load), where a batch formed at once would wait anyway.
    ready = getattr(responder.backend, "ready", None)
    while (first := get()) is not None:
        batch = [first]
        deadline = time.perf_counter() + max_wait  # from the first sample's arrival, waiting on the device or not
        if ready is not None:
            ready()
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
