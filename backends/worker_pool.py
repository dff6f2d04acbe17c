"""Per-worker resources of a loaded backend: CUDA streams, ONNX Runtime sessions, OpenVINO infer requests,
TensorRT execution contexts, the GPUs of a multi-device run. Every backend keeps them in one `WorkerPool`.

Two ways to use one: `with pool.use() as item` takes an idle item for one batch and gives it back (a caller
beyond the items waits for one), and `pool.mine()` binds each calling thread to one item for its life,
round-robin (never waits: a multi-GPU worker keeps its GPU, so no lock is held across a forward pass).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class WorkerPool(Generic[T]):
    def __init__(self, items: Iterable[T]):
        self.items: list[T] = list(items)
        if not self.items:
            raise ValueError("a worker pool needs at least one item")
        self._idle: queue.SimpleQueue[T] = queue.SimpleQueue()
        for item in self.items:
            self._idle.put(item)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._bound = 0

    def __len__(self) -> int:
        return len(self.items)

    @contextmanager
    def use(self) -> Iterator[T]:
        """An idle item for the caller's batch, back in the pool afterwards (also when the batch raises)."""
        item = self._idle.get()  # blocks only if more callers than items: never in the scenarios
        try:
            yield item
        finally:
            self._idle.put(item)

    def mine(self) -> T:
        """The item bound to the calling thread, chosen round-robin on its first call."""
        item = getattr(self._local, "item", None)
        if item is None:
            with self._lock:
                item = self.items[self._bound % len(self.items)]
                self._bound += 1
            self._local.item = item
        return item
