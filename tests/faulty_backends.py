"""Backends that misbehave on purpose, registered by tests to check that the harness copes."""

from __future__ import annotations

import time

import numpy as np

from bench.backends.null_backend import NullBackend


class RaisesMidRun(NullBackend):
    """Fine through warm-up, then raises once LoadGen has been running a while."""

    name = "raises-mid-run"
    after_s = 1.5  # warm-up takes at least 1 s

    def load(self, model, options):
        super().load(model, options)
        self.loaded_at = time.perf_counter()

    def predict(self, batch):
        time.sleep(0.001)
        if time.perf_counter() - self.loaded_at > self.after_s:
            raise RuntimeError("device lost (injected)")
        return super().predict(batch)


class WrongShape(NullBackend):
    name = "wrong-shape"

    def predict(self, batch):
        return np.zeros((len(batch), 1000), dtype=np.float32)  # logits instead of class ids


class ProbeReturnsNone(NullBackend):
    name = "probe-none"

    @classmethod
    def probe(cls):
        return None


class ProbeRaises(NullBackend):
    name = "probe-raises"

    @classmethod
    def probe(cls):
        raise OSError("/dev/vendor0: no such device")


class Slow(NullBackend):
    """50 ms a batch: a LoadGen run lasts long enough for a signal to land in it (tests/test_signals.py)."""

    name = "slow"

    def predict(self, batch):
        time.sleep(0.05)
        return super().predict(batch)
