"""What every scenario provides: LoadGen TestSettings for a run, and the SUT callbacks that dispatch queries."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

import mlperf_loadgen as lg


@dataclass
class Estimate:
    """Measured in the untimed warm-up: sizes LoadGen's run so the minimum duration is met, not missed."""

    samples_per_second: float
    single_latency_s: float


class Scenario:
    name: str = ""
    loadgen_name: str = ""  # as LoadGen and user.conf spell it

    @property
    def loadgen_scenario(self):
        return getattr(lg.TestScenario, self.loadgen_name)

    def quick_settings(self, cfg, estimate: Estimate) -> dict:
        """TestSettings fields for --profile quick (skipped where user.conf names the key)."""
        raise NotImplementedError

    def explicit_settings(self, cfg) -> dict:
        """TestSettings fields the user gave on the command line: these win over user.conf and profile."""
        return {}

    def start(self, responder, cfg):
        """(issue_queries, flush_queries) for lg.ConstructFastSUT: issue_queries(ids, indices) takes LoadGen's
        response ids and sample indices as two lists; `close()` afterwards stops any threads."""
        raise NotImplementedError

    def start_workers(self, responder) -> queue.SimpleQueue:
        """One worker thread per backend slot (`concurrency`), each running `self.work(responder)` on a shared queue;
        `None` in the queue stops one worker."""
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        slots = getattr(responder.backend, "concurrency", 1)
        self.threads = [threading.Thread(target=self.work, args=(responder,), daemon=True, name=f"{self.name}-{i}")
                        for i in range(slots)]
        for t in self.threads:
            t.start()
        return self.queue

    def work(self, responder) -> None:
        """A worker's loop (scenarios that use start_workers)."""
        raise NotImplementedError

    def close(self) -> None:
        threads, self.threads = getattr(self, "threads", []), []
        for _ in threads:
            self.queue.put(None)
        for t in threads:
            t.join()
