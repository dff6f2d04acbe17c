"""bench-backend-echo: a backend shipped outside bench, found through the `bench.backends` entry point.

It does real, tiny work on the real batch buffer: each image's three channel means through a fixed, seeded
linear map to the model's classes, argmax. No runtime to install, so the test suite can run it through every
scenario in seconds.
"""

from __future__ import annotations

import numpy as np

from bench.backends.base import Availability, Backend, BackendOptions, Support

__version__ = "0.1.0"


class EchoBackend(Backend):
    name = "echo"  # must be the entry point's name
    SUPPORTS = {"cpu": Support(precisions=("fp32",))}  # anything else is refused by the base class before a run

    @classmethod
    def probe(cls) -> Availability:
        return Availability(True, version=__version__, devices=["cpu"])

    def load(self, model, options: BackendOptions) -> None:
        self.options = options
        self.weights = np.random.default_rng(model.seed).standard_normal((3, model.num_classes)).astype(np.float32)
        self.concurrency = 2  # two worker threads may call predict() at once: it keeps no per-call state

    def logits(self, batch: np.ndarray) -> np.ndarray:
        return batch.mean(axis=(2, 3)) @ self.weights

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.logits(batch).argmax(axis=1).astype(np.int64)  # computed before returning: the buffer is reused

    def describe(self) -> dict:
        return {"name": self.name, "device": "cpu", "precision": self.options.precision,
                "batch_size": self.options.batch_size, "concurrency": self.concurrency,
                "package": "bench-backend-echo", "version": __version__}
