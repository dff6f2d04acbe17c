"""The system under test's core: run a batch on the backend and answer LoadGen, whatever happens.

Every query LoadGen issues gets an answer: after a backend error or an interrupt the remaining ones
are answered empty, so LoadGen never waits forever; the run is then recorded failed or interrupted.
"""

from __future__ import annotations

import threading
import time
from itertools import repeat

import mlperf_loadgen as lg
import numpy as np

from bench.errors import RunFailed
from bench.run.qsl import SampleStore


def check_classes(backend, classes, n: int) -> None:
    """A backend must return one class id per sample; anything else is a bug to stop on, never to time."""
    if getattr(classes, "shape", None) != (n,):
        raise RunFailed(f"backend {backend.name} returned {getattr(classes, 'shape', type(classes).__name__)} for a "
                        f"batch of {n}: predict() must return one class id per sample, shape ({n},)")


class Responder:
    def __init__(self, backend, store: SampleStore):
        self.backend = backend
        self.store = store
        self.completed = 0  # samples answered with a prediction (read by the progress display)
        self.error: BaseException | None = None
        self.stop = threading.Event()  # set on Ctrl-C: answer the rest at once, empty
        self._lock = threading.Lock()
        self.latency = None  # a bench.run.latency.LatencyRecorder while a performance run records latencies
        self.batches = 0
        self.submit = getattr(backend, "submit", None)
        # A backend told which samples a batch holds (remote: --allow-endpoint-loss names the samples it re-sent).
        self.indexed = getattr(backend, "predict_indexed", None)

    def run(self, ids: list[int], indices: np.ndarray) -> None:
        """Predict the samples at `indices` and complete the queries `ids` (same order). `indices` may be longer than
        `ids` (a batch padded to a shape the device has already run): the padding is computed, never answered.

        A backend with `submit` (an asynchronous device, e.g. sim) is handed the gather, straight into its own staging
        buffer, and answers from its completion thread: this thread is free for the next batch at once."""
        if self.error is not None or self.stop.is_set():
            return self.answer_empty(ids)
        self.batches += 1
        n = len(indices)
        try:
            resident = getattr(self.backend, "submit_rows", None)  # set while the device holds the loaded set
            if resident is not None:
                return resident(self.store.rows(indices), lambda classes, exc: self.finish(ids, n, classes, exc))
            if self.submit is not None:
                return self.submit(n, lambda out: self.store.batch(indices, out=out),
                                   lambda classes, exc: self.finish(ids, n, classes, exc))
            if self.indexed is not None:
                classes = self.indexed(self.store.batch(indices, reuse=True), indices[:len(ids)])
            else:
                classes = self.backend.predict(self.store.batch(indices, reuse=True))
        except BaseException as exc:  # noqa: BLE001 - recorded, and the run ends failed
            return self.finish(ids, n, None, exc)
        self.finish(ids, n, classes, None)

    def finish(self, ids: list[int], n: int, classes, exc: BaseException | None) -> None:
        """Answer LoadGen for one batch: its class ids, or (after an error) empty responses."""
        if exc is None:
            try:
                check_classes(self.backend, classes, n)
                classes = classes[:len(ids)]
            except BaseException as bad:  # noqa: BLE001
                exc = bad
        if exc is not None:
            with self._lock:
                self.error = self.error or exc
            return self.answer_empty(ids)
        # MLPerf's accuracy script reads each response as one float32 class id (see docs/models-data.md).
        out = np.ascontiguousarray(classes, dtype=np.float32)
        base, n = out.ctypes.data, len(ids)
        done_ns = time.perf_counter_ns()
        # map(): one pybind object per sample is the floor; no Python-level loop body on top of it.
        lg.QuerySamplesComplete(list(map(lg.QuerySampleResponse, ids, range(base, base + 4 * n, 4), repeat(4, n))))
        if self.latency is not None:
            self.latency.completed(ids, done_ns)
        with self._lock:
            self.completed += len(ids)

    def counts(self) -> tuple[int, int, int, int | None, int]:
        """(batches, store gathers, backend copies, host-to-device copies, batches read in place) so far; data_path() reports the difference
        over a run. The last two come from backends that count them where they happen (sim; torch on CUDA)."""
        extra = (getattr(self.backend, "counters", None) or {}).get("extra_copies", 0)
        return self.batches, self.store.gathers, extra, getattr(self.backend, "h2d_copies", None), self.store.in_place

    def data_path(self, before: tuple) -> dict:
        """What the run's batches really took: the form the store held, and host copies counted on the way."""
        now = self.counts()
        batches, gathers, extra = (a - b for a, b in zip(now[:3], before[:3]))
        in_place = now[4] - before[4]

        def per(n):
            return round(n / batches, 3) if batches else None

        counted = hasattr(self.backend, "counters")  # a backend that counts its own host copies (sim); others do not
        path = {**self.store.loaded, "batches": batches, "asynchronous": self.submit is not None,
                "gathers_per_batch": per(gathers), "read_in_place_per_batch": per(in_place),
                "backend_copies_per_batch": per(extra) if counted else None,
                "h2d_copies_per_batch": None if now[3] is None else per(now[3] - before[3])}
        path["host_copies_per_batch"] = (path["gathers_per_batch"] + path["backend_copies_per_batch"]
                                         if counted and batches else None)
        # Read from the backend as it ran, never declared here: where the loaded set lived, whether the host memory
        # the device read was pinned (None: no device copy, or not known), and whether a timed batch crossed to it.
        path["input_location"] = getattr(self.backend, "input_location", "host")
        path["pinned"] = getattr(self.backend, "pinned_input", None)
        path["h2d_in_timed_region"] = None if path["h2d_copies_per_batch"] is None else path["h2d_copies_per_batch"] > 0
        if hasattr(self.backend, "run_stats"):
            path["device"] = self.backend.run_stats()
        return path

    @staticmethod
    def answer_empty(ids: list[int]) -> None:
        lg.QuerySamplesComplete([lg.QuerySampleResponse(q, 0, 0) for q in ids])
