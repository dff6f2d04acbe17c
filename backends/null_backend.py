"""Null backend: answers at once. It measures the harness itself (LoadGen + SUT + response path)."""

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
        return {"name": self.name, "device": "cpu", "precision": self.options.precision, "note": "does no inference"}
