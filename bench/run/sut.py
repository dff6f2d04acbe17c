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

    def run(self, ids: list[int], indices: np.ndarray) -> None:
        """Predict the samples at `indices` and complete the queries `ids` (same order). `indices` may be longer than
        `ids` (a batch padded to a shape the device has already run): the padding is computed, never answered."""
        if self.error is not None or self.stop.is_set():
            return self.answer_empty(ids)
        try:
            classes = self.backend.predict(self.store.batch(indices, reuse=True))
            check_classes(self.backend, classes, len(indices))
            classes = classes[:len(ids)]
        except BaseException as exc:  # noqa: BLE001 - recorded, and the run ends failed
            with self._lock:
                self.error = self.error or exc
            return self.answer_empty(ids)
        # MLPerf's accuracy script reads each response as one float32 class id (see README).
        out = np.ascontiguousarray(classes, dtype=np.float32)
        base, n = out.ctypes.data, len(ids)
        done_ns = time.perf_counter_ns()
        # map(): one pybind object per sample is the floor; no Python-level loop body on top of it.
        lg.QuerySamplesComplete(list(map(lg.QuerySampleResponse, ids, range(base, base + 4 * n, 4), repeat(4, n))))
        if self.latency is not None:
            self.latency.completed(ids, done_ns)
        with self._lock:
            self.completed += len(ids)

    @staticmethod
    def answer_empty(ids: list[int]) -> None:
        lg.QuerySamplesComplete([lg.QuerySampleResponse(q, 0, 0) for q in ids])
