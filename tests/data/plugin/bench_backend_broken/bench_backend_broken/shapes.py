"""Classes that import fine but break the interface: wrong base, a missing method, describe() raising."""

from __future__ import annotations

import numpy as np

from bench.backends.base import Availability, Backend


class NotABackend:  # not a backends.base.Backend subclass
    name = "broken-base"

    def predict(self, batch):
        return np.zeros(len(batch), dtype=np.int64)


class NoPredict(Backend):  # predict() and describe() left out: the class stays abstract
    name = "broken-methods"

    @classmethod
    def probe(cls) -> Availability:
        return Availability(True, version="0.2.0", devices=["cpu"])

    def load(self, model, options) -> None:
        pass


class DescribeRaises(Backend):
    """Keeps the interface's shape, but describe() raises once loaded: found only when a run starts."""

    name = "broken-describe"

    @classmethod
    def probe(cls) -> Availability:
        return Availability(True, version="0.2.0", devices=["cpu"])

    def load(self, model, options) -> None:
        self.options = options

    def predict(self, batch):
        return np.zeros(len(batch), dtype=np.int64)

    def describe(self) -> dict:
        raise KeyError("firmware_version")
