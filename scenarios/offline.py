"""Offline: LoadGen hands over every sample at once; worker threads run them in batches of --batch-size.

MLPerf's metric: samples/s (`result_samples_per_second`)."""

from __future__ import annotations

from bench.scenarios.base import SIZING_HEADROOM as OVERESTIMATE
from bench.scenarios.base import Dispatcher, Estimate, Figure, Scenario, TuneTarget, WorkerPool

SLACK = 1.1  # LoadGen's Offline query holds 1.1x the expected QPS x the minimum duration


class Offline(Scenario):
    name = "offline"
    loadgen_name = "Offline"
    metric = Figure("result_samples_per_second", "samples/s", "samples/s", True)
    intent = "throughput"
    suites = ("datacenter", "edge")
    tune = TuneTarget("target_qps", "measure", figure="samples_per_second", headroom=OVERESTIMATE)
    conf_keys = {"offline_expected_qps": {"target_qps"}}
    advice = "give --target-qps near the real throughput, or a longer --duration"

    def pads(self, cfg) -> bool:
        """On a GPU the last, partial batch is padded to the full one: a new shape's first call would re-tune cuDNN
        inside the timed region (about 0.75 s per shape for ResNet-50 fp16 on an H200), and warming every size up
        to the batch costs that for each (96 s at batch 128). The padding is at most one batch of wasted work."""
        return cfg.device.startswith("cuda")

    def quick_settings(self, cfg, estimate: Estimate) -> dict:
        return {"min_query_count": 1, "offline_expected_qps": estimate.samples_per_second * OVERESTIMATE}

    def explicit_settings(self, cfg) -> dict:
        return {} if cfg.target_qps is None else {"offline_expected_qps": cfg.target_qps}

    def conf_lines(self, model: str, perf: dict) -> list[str]:
        return [f"{model}.Offline.target_qps = {perf['target_qps']:g}"] if perf.get("target_qps") else []

    def scheduled_samples(self, ts) -> float:
        return ts.offline_expected_qps * ts.min_duration_ms / 1000 * SLACK

    def start(self, responder, cfg) -> Dispatcher:
        import numpy as np  # here: the CLI reads the registry without numpy

        def work(pending) -> None:
            while (item := pending.get()) is not None:
                responder.run(*item)

        workers = WorkerPool(work, responder.backend.concurrency, self.name)
        put, batch_size, pad = workers.queue.put, cfg.batch_size, self.pads(cfg)

        def issue(ids: list[int], indices: list[int]):
            # LoadGen's fast SUT hands plain id and index lists: no Python object per sample to unpack.
            samples = np.array(indices, dtype=np.int64)
            for start in range(0, len(ids), batch_size):
                chunk = samples[start:start + batch_size]
                if pad and len(chunk) < batch_size:
                    chunk = np.resize(chunk, batch_size)  # repeats the chunk's own samples
                put((ids[start:start + batch_size], chunk))

        return Dispatcher(issue, workers)
