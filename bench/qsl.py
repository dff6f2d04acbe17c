"""LoadGen's query sample library: brings into RAM only the samples LoadGen asks for, and batches them."""

from __future__ import annotations

import numpy as np

from bench.dataset import Dataset

# MLPerf's performance sample count for ResNet-50.
PERFORMANCE_SAMPLE_COUNT = 1024


class SampleStore:
    def __init__(self, dataset: Dataset, performance_count: int | None = None):
        self.dataset = dataset
        self.total = len(dataset)
        self.performance_count = min(performance_count or PERFORMANCE_SAMPLE_COUNT, self.total)
        self.slots = np.full(self.total, -1, dtype=np.int64)  # dataset index -> row of `self.data`
        self.data: np.ndarray | None = None

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

    def batch(self, indices: np.ndarray) -> np.ndarray:
        rows = self.slots[indices]
        if (rows < 0).any():
            raise RuntimeError(f"LoadGen asked for samples that are not loaded: {indices[rows < 0][:5].tolist()}")
        return self.data[rows]
