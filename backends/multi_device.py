"""Several devices behind one SUT: one backend instance per GPU (`--device cuda:0,1` or `cuda:all`).

Each scenario worker thread is bound to one instance for its life (a WorkerPool's `mine()`, round-robin over
the instances' own `concurrency`), so batches spread over the GPUs as fast as each one frees its worker, and no lock is
held across a forward pass. Per-device counts are kept for the result (performance.per_device).
"""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np

from bench.backends.base import Availability, Backend, BackendOptions, Support
from bench.backends.worker_pool import WorkerPool


class MultiDeviceBackend(Backend):
    def __init__(self, cls: type[Backend], devices: list[str]):
        self.cls, self.device_names = cls, list(devices)
        self.name, self.pip_extra, self.packages, self.model_format = cls.name, cls.pip_extra, cls.packages, \
            cls.model_format
        self.SUPPORTS = cls.SUPPORTS
        self.instances: list[Backend] = []
        self._lock = threading.Lock()
        self.reset_stats()

    def supports(self, device: str) -> Support | None:  # type: ignore[override]  # the wrapped class's declaration
        return self.cls.supports(device)

    @classmethod
    def probe(cls) -> Availability:  # the wrapped class was probed by the registry already
        return Availability(True)

    def load(self, model, options: BackendOptions) -> None:
        self.options = options
        size = getattr(model, "input_size", 224)
        for device in self.device_names:
            instance = self.cls()
            instance.load(model, dataclasses.replace(options, device=device))
            # Untimed: the harness warms up through one worker only, so each GPU gets its first batch here, in the
            # form the instance takes (uint8 NHWC where it normalises on the device: backends/device_input.py).
            self.sample_form = getattr(instance, "sample_form", "float32-nchw")
            pixels = self.sample_form == "uint8-nhwc"
            instance.predict(np.zeros((options.batch_size, size, size, 3) if pixels else
                                      (options.batch_size, 3, size, size), dtype=np.uint8 if pixels else np.float32))
            instance.synchronize()
            self.instances.append(instance)
        per_instance = [b.concurrency for b in self.instances]
        # Interleaved (gpu0, gpu1, gpu0, gpu1, ...) so the first N worker threads land on N different GPUs.
        self.pool = WorkerPool(i for k in range(max(per_instance)) for i, c in enumerate(per_instance) if k < c)
        self.concurrency = len(self.pool)
        # The harness's warm-up measures one instance; the run's expected rate scales with the devices.
        self.parallel_devices = len(self.instances)

    def _run(self, batch: np.ndarray, method: str) -> np.ndarray:
        index = self.pool.mine()
        start = time.perf_counter()
        out = getattr(self.instances[index], method)(batch)
        busy = time.perf_counter() - start
        stats = self.stats[index]
        with self._lock:
            stats["batches"] += 1
            stats["samples"] += len(batch)
            stats["busy_s"] += busy
        return out

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self._run(batch, "predict")

    def logits(self, batch: np.ndarray) -> np.ndarray:
        return self._run(batch, "logits")

    def synchronize(self) -> None:
        for instance in self.instances:
            instance.synchronize()

    def reset_stats(self) -> None:
        """Count from here (the harness calls it before the timed run, so warm-up is left out)."""
        self.stats = [{"batches": 0, "samples": 0, "busy_s": 0.0} for _ in self.device_names]
        self._started = time.perf_counter()

    def device_stats(self) -> list[dict]:
        """Each device's share since reset_stats(): batches, samples, busy seconds and samples/s."""
        elapsed = time.perf_counter() - self._started
        return [{"device": d, **s, "samples_per_second": s["samples"] / elapsed if elapsed > 0 else None,
                 "busy_fraction": s["busy_s"] / elapsed if elapsed > 0 else None}
                for d, s in zip(self.device_names, self.stats)]

    def describe(self) -> dict:
        first = self.instances[0].describe() if self.instances else {}
        return {
            **{k: v for k, v in first.items() if k not in ("device", "gpu", "gpu_name", "gpu_uuid", "pci_bus_id")},
            "name": self.name,
            "device": self.options.device,
            "devices": [b.describe() for b in self.instances],
            "multi_device": {
                "instances": len(self.instances),
                "worker_threads": self.concurrency,
                "dispatch": "each worker thread is bound to one device; a batch goes to whichever worker is free",
            },
        }

    def close(self) -> None:
        for instance in self.instances:
            instance.close()
