"""Null backend: answers at once. The tool for measuring the harness itself (LoadGen + SUT + batch copy + response).

Hidden from `bench backends` (shown with --all); `bench run --backend null` runs it. With --null-image-size 1 its
synthetic samples are 3x1x1: the per-sample work of the harness is timed, not the memory bandwidth of copying
0.6 MB images (which real backends pay, and benchmarks/harness_overhead.py measures against their raw loops).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.backends.base import Availability, Backend, BackendOptions, Support

if TYPE_CHECKING:  # type hints only: the declarations import without numpy (`bench run --help`)
    import numpy as np


class NullBackend(Backend):
    name = "null"
    # Any precision: it computes nothing, so each one measures the harness alike.
    SUPPORTS = {"cpu": Support(("fp32", "bf16", "fp16", "int8"), options=("null_image_size",))}

    @classmethod
    def probe(cls) -> Availability:
        return Availability(True, version="n/a", devices=["cpu"])

    def load(self, model, options: BackendOptions) -> None:
        import numpy

        self.options, self.np = options, numpy  # kept: no import lookup inside the timed calls

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.np.zeros(len(batch), dtype=self.np.int64)

    def logits(self, batch: np.ndarray) -> np.ndarray:
        return self.np.zeros((len(batch), 1000), dtype=self.np.float32)

    def describe(self) -> dict:
        return {"name": self.name, "device": "cpu", "precision": self.options.precision, "note": "does no inference",
                "image_size": self.options.extra.get("null_image_size")}
