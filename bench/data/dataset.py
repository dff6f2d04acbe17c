"""Datasets of preprocessed images: seeded synthetic ones, and (bench.data.imagenet) ImageNet validation sets."""

from __future__ import annotations

import numpy as np

# Synthetic sets are small by default: each 224x224 sample is 0.6 MB of float32.
SYNTHETIC_DEFAULT_COUNT = 256


class Dataset:
    """Indexable preprocessed samples (float32 CHW) with labels (-1 where unknown)."""

    synthetic: bool = False
    forms: tuple[str, ...] = ("float32-nchw",)  # the sample forms it gives exactly (bench/run/qsl.py)

    def __len__(self) -> int:
        raise NotImplementedError

    def sample(self, index: int) -> np.ndarray:
        raise NotImplementedError

    def label(self, index: int) -> int:
        return -1

    def labels(self) -> np.ndarray:
        return np.array([self.label(i) for i in range(len(self))], dtype=np.int64)

    def describe(self) -> dict:
        raise NotImplementedError


class SyntheticDataset(Dataset):
    """Seeded normal noise, one generator per index, so any sample can be made alone and the same every time."""

    synthetic = True
    forms = ("float32-nchw", "uint8-nhwc")

    def __init__(self, count: int = SYNTHETIC_DEFAULT_COUNT, size: int = 224, seed: int = 0):
        self.count, self.size, self.seed = count, size, seed

    def __len__(self) -> int:
        return self.count

    def sample(self, index: int) -> np.ndarray:
        rng = np.random.default_rng((self.seed, index))
        return rng.standard_normal((3, self.size, self.size), dtype=np.float32)

    def sample_uint8(self, index: int) -> np.ndarray:
        """Seeded pixels, HWC uint8: what a device that normalises on its side is sent (a quarter of the bytes)."""
        rng = np.random.default_rng((self.seed, index, 8))
        return rng.integers(0, 256, (self.size, self.size, 3), dtype=np.uint8)

    def describe(self) -> dict:
        return {"kind": "synthetic", "count": self.count, "seed": self.seed, "synthetic": True,
                "note": "seeded random images: performance only, accuracy is meaningless"}
