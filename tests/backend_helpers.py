"""Helpers for the backend and precision tests: real images preprocessed as the benchmark does, loaded backends."""

from __future__ import annotations

import numpy as np

from bench import backends, models
from tests.conftest import TEST_DATA

IMAGES = TEST_DATA / "imagenet"


def real_images(count: int = 40, profile: str = "torchvision") -> np.ndarray:
    """The first `count` bundled ImageNet validation images (val_map order), preprocessed with `profile`."""
    from bench.data.preprocessing import preprocess

    names = [line.split()[0] for line in (IMAGES / "val_map.txt").read_text().splitlines() if line.strip()]
    return np.stack([preprocess(str(IMAGES / n), profile) for n in names[:count]])


def loaded(name: str, model: str = "resnet18", **options):
    """A backend created through the registry (so check_options runs) and loaded with `options`."""
    spec = models.resolve(model)
    opts = backends.BackendOptions(**{"batch_size": 8, "threads": 1, **options})
    backend = backends.create(name, opts)
    backend.load(spec, opts)
    return backend


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-row cosine similarity of two logit matrices."""
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
