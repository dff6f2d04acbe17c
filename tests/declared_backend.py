"""A backend added the documented way, for tests/test_backend_declarations.py: this module, one registry line
(the test's monkeypatch), nothing else. It answers at once, like the null backend, but declares its own
support: fp32 and int8 on the CPU, honouring --streams and --calibration."""

from __future__ import annotations

import numpy as np

from bench.backends import cpu_streams
from bench.backends.base import Availability, Backend, BackendOptions, Support
from bench.backends.worker_pool import WorkerPool


class DeclaredBackend(Backend):
    name = "declared"
    SUPPORTS = {"cpu": Support(("fp32", "int8"), options=("streams", "calibration"), needs={"int8": "calibration"})}

    @classmethod
    def probe(cls) -> Availability:
        return Availability(True, version="1", devices=["cpu"])

    def load(self, model, options: BackendOptions) -> None:
        self.options = options
        split = cpu_streams.apply(self, options)
        self.pool = WorkerPool(range(split.streams if split else 1))

    def predict(self, batch: np.ndarray) -> np.ndarray:
        with self.pool.use():
            return np.zeros(len(batch), dtype=np.int64)

    def describe(self) -> dict:
        return {"name": self.name, "device": self.options.device, "precision": self.options.precision,
                **(self.split.describe() if self.split else {})}
