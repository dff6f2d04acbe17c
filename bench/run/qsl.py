"""LoadGen's query sample library: brings into RAM only the samples LoadGen asks for, and batches them."""

from __future__ import annotations

import threading

import numpy as np

from bench.data.dataset import Dataset

# MLPerf's performance sample count for ResNet-50.
PERFORMANCE_SAMPLE_COUNT = 1024


class SampleStore:
    def __init__(self, dataset: Dataset, performance_count: int | None = None):
        self.dataset = dataset
        self.total = len(dataset)
        self.performance_count = min(performance_count or PERFORMANCE_SAMPLE_COUNT, self.total)
        self.slots = np.full(self.total, -1, dtype=np.int64)  # dataset index -> row of `self.data`
        self.data: np.ndarray | None = None
        self._local = threading.local()  # each worker thread's reused batch buffer

    def load(self, indices) -> None:
        """LoadGen's load_samples callback: one contiguous array, so a batch is one fancy-index copy."""
        indices = np.asarray(list(indices), dtype=np.int64)
        first = self.dataset.sample(int(indices[0])) if len(indices) else np.zeros(0, np.float32)
        self.data = np.empty((len(indices),) + first.shape, dtype=first.dtype)
        for row, index in enumerate(indices):
            self.data[row] = first if row == 0 else self.dataset.sample(int(index))
        self.slots[:] = -1
        self.slots[indices] = np.arange(len(indices))

    def unload(self, indices) -> None:
        self.slots[:] = -1
        self.data = None

    def batch(self, indices: np.ndarray, reuse: bool = False) -> np.ndarray:
        """The samples at `indices` as one contiguous array (the host copy every real batch pays).

        reuse=True copies into this thread's own buffer, valid until the thread's next call: the timed path
        then allocates nothing (a fresh multi-MB array per batch costs page faults, measured at up to 2x the
        copy itself). Backends consume a batch before predict() returns, so the hot path can reuse.
        """
        rows = self.slots[indices]
        if (rows < 0).any():
            raise RuntimeError(f"LoadGen asked for samples that are not loaded: {indices[rows < 0][:5].tolist()}")
        if not reuse:
            return self.data[rows]
        buf = getattr(self._local, "buf", None)
        if buf is None or len(buf) < len(rows) or buf.shape[1:] != self.data.shape[1:] or buf.dtype != self.data.dtype:
            buf = self._local.buf = np.empty((len(rows),) + self.data.shape[1:], self.data.dtype)
        # mode="clip": rows are checked above, and take() buffers `out` in its default "raise" mode.
        return np.take(self.data, rows, axis=0, out=buf[:len(rows)], mode="clip")
