"""Null backend: answers at once. The tool for measuring the harness itself (LoadGen + SUT + batch copy + response).

Hidden from `bench backends` (shown with --all); `bench run --backend null` runs it. With --null-image-size 1 its
synthetic samples are 3x1x1: the per-sample work of the harness is timed, not the memory bandwidth of copying
0.6 MB images (which real backends pay, and benchmarks/harness_overhead.py measures against their raw loops).
"""

from __future__ import annotations

import numpy as np

from backends.base import Availability, Backend, BackendOptions


class NullBackend(Backend):
    name = "null"
    precisions = ("fp32", "bf16", "fp16", "int8")

    @classmethod
    def probe(cls) -> Availability:
        return Availability(True, version="n/a", devices=["cpu"])

    def load(self, model, options: BackendOptions) -> None:
        self.options = options

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return np.zeros(len(batch), dtype=np.int64)

    def logits(self, batch: np.ndarray) -> np.ndarray:
        return np.zeros((len(batch), 1000), dtype=np.float32)

    def describe(self) -> dict:
        return {"name": self.name, "device": "cpu", "precision": self.options.precision, "note": "does no inference",
                "image_size": self.options.extra.get("null_image_size")}
