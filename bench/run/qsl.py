"""LoadGen's query sample library: brings into RAM only the samples LoadGen asks for, and batches them.

Samples are held in the form the backend asks for (its `sample_form`): float32 NCHW, as every CPU backend takes, or
uint8 NHWC (the pixels before normalisation, a quarter of the bytes), for a device that normalises on its side.
Either way only the performance set is held, once: memory is flat in the dataset's size.
"""

from __future__ import annotations

import threading

import numpy as np

from bench.data.dataset import Dataset

# MLPerf's performance sample count for ResNet-50.
PERFORMANCE_SAMPLE_COUNT = 1024
FLOAT32_NCHW, UINT8_NHWC = "float32-nchw", "uint8-nhwc"
FORMS = (FLOAT32_NCHW, UINT8_NHWC)


class SampleStore:
    def __init__(self, dataset: Dataset, performance_count: int | None = None, form: str = FLOAT32_NCHW):
        if form not in getattr(dataset, "forms", (FLOAT32_NCHW,)):
            from bench.errors import UsageError

            raise UsageError(f"the backend takes {form} samples, which this dataset ({dataset.describe().get('kind')}) "
                             f"cannot give exactly: use --dataset synthetic")
        self.dataset, self.form = dataset, form
        self._sample = dataset.sample if form == FLOAT32_NCHW else dataset.sample_uint8  # type: ignore[attr-defined]
        self.loaded: dict = {}
        self.gathers = 0  # host copies the store made (one per batch of more than one sample)
        self.in_place = 0  # one-sample batches handed to the device as their row of the store: no copy
        self.total = len(dataset)
        self.performance_count = min(performance_count or PERFORMANCE_SAMPLE_COUNT, self.total)
        self.slots = np.full(self.total, -1, dtype=np.int64)  # dataset index -> row of `self.data`
        self.data: np.ndarray | None = None
        self._local = threading.local()  # each worker thread's reused batch buffer

    def load(self, indices) -> None:
        """LoadGen's load_samples callback: one contiguous array, so a batch is one fancy-index copy."""
        indices = np.asarray(list(indices), dtype=np.int64)
        first = self._sample(int(indices[0])) if len(indices) else np.zeros(0, np.float32)
        self.data = np.empty((len(indices),) + first.shape, dtype=first.dtype)
        for row, index in enumerate(indices):
            self.data[row] = first if row == 0 else self._sample(int(index))
        self.slots[:] = -1
        self.slots[indices] = np.arange(len(indices))
        self.loaded = self.describe()  # kept after LoadGen unloads: what the timed run's batches held

    def unload(self, indices) -> None:
        self.slots[:] = -1
        self.data = None

    def describe(self) -> dict:
        """The form the samples are held in: dtype and bytes read from the loaded array, not from what was asked."""
        if self.data is None or not len(self.data):
            return {"form": self.form, "dtype": None, "bytes_per_sample": None, "shape": None}
        return {"form": self.form, "layout": self.form.split("-")[1].upper(), "dtype": str(self.data.dtype),
                "shape": list(self.data.shape[1:]), "bytes_per_sample": int(self.data[0].nbytes)}

    def batch(self, indices: np.ndarray, reuse: bool = False, out: np.ndarray | None = None) -> np.ndarray:
        """The samples at `indices` as one contiguous array (the host copy every real batch pays).

        reuse=True copies into this thread's own buffer, valid until the thread's next call: the timed path
        then allocates nothing (a fresh multi-MB array per batch costs page faults, measured at up to 2x the
        copy itself). Backends consume a batch before predict() returns, so the hot path can reuse.
        `out`: gather straight into a buffer the backend owns (its staging buffer), the batch's only host copy; where
        the batch is one sample, its row of the store is returned instead (read it, never write).
        """
        data = self.data
        if data is None:
            raise RuntimeError("LoadGen asked for samples before loading any")
        rows = self.slots[indices]
        # min() and a scalar test: (rows < 0).any() cost 4 us a batch, a tenth of SingleStream's budget over the device
        if len(rows) and (int(rows[0]) if len(rows) == 1 else rows.min()) < 0:
            raise RuntimeError(f"LoadGen asked for samples that are not loaded: {indices[rows < 0][:5].tolist()}")
        if out is not None:
            if out.dtype != data.dtype or out.shape != (len(rows),) + data.shape[1:]:
                raise RuntimeError(f"staging buffer {out.dtype}{list(out.shape)} does not fit a batch of "
                                   f"{len(rows)} {data.dtype}{list(data.shape[1:])} samples")
            if len(rows) == 1:
                # One sample (SingleStream) is already one block of the store: the device reads it in place, as a DMA
                # from the store would; no host copy. The caller must not write to it. Batches are always gathered.
                self.in_place += 1
                return data[int(rows[0]):int(rows[0]) + 1]
            self.gathers += 1
            return np.take(data, rows, axis=0, out=out, mode="clip")
        self.gathers += 1
        if not reuse:
            return data[rows]
        buf = getattr(self._local, "buf", None)
        if buf is None or len(buf) < len(rows) or buf.shape[1:] != data.shape[1:] or buf.dtype != data.dtype:
            buf = self._local.buf = np.empty((len(rows),) + data.shape[1:], data.dtype)
        # mode="clip": rows are checked above, and take() buffers `out` in its default "raise" mode.
        return np.take(data, rows, axis=0, out=buf[:len(rows)], mode="clip")

    def rows(self, indices: np.ndarray) -> np.ndarray:
        """The store's rows of `indices`, for a backend that holds the loaded set itself (--input-location device)
        and gathers on its side: no host copy."""
        rows = self.slots[indices]
        if len(rows) and rows.min() < 0:
            raise RuntimeError(f"LoadGen asked for samples that are not loaded: {indices[rows < 0][:5].tolist()}")
        return rows


def loader(store: SampleStore, backend):
    """LoadGen's load_samples and unload_samples callbacks (untimed): the store's, then the backend's own where it
    keeps the loaded set (`samples_loaded(store)`: torch copies it to the GPU for --input-location device)."""
    loaded, unloaded = getattr(backend, "samples_loaded", None), getattr(backend, "samples_unloaded", None)

    def load(indices) -> None:
        store.load(indices)
        if loaded is not None:
            loaded(store)

    def unload(indices) -> None:
        if unloaded is not None:
            unloaded()
        store.unload(indices)

    return load, unload
