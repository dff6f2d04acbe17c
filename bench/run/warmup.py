"""The untimed warm-up: the steady-state rate that sizes LoadGen's run, and every shape the timed run will meet."""

from __future__ import annotations

import threading
import time

import numpy as np

from bench.config.run_config import RunConfig
from bench.run.qsl import SampleStore
from bench.run.sut import check_classes
from bench.scenarios.base import Estimate


def warm_up(backend, store: SampleStore, cfg: RunConfig, scenario) -> tuple[Estimate, float, list[int], float]:
    """(estimate, seconds, batch sizes run, the first call's seconds).

    Untimed iterations on real samples: the steady-state rate at the scenario's batch sizes LoadGen's run; then
    every other batch size the scenario can issue runs once, so no first call at a new shape is timed.

    On a thread of its own, as the timed run infers on LoadGen's or the workers' threads: a thread's rate depends
    on which malloc arena and OpenMP team it has (bench/system/malloc.py, backends/cpu_streams.py), and a warm-up on
    the main thread once under-sized the run, so the quick start's first run ended INVALID."""
    finished, outcome = threading.Event(), {}

    def body() -> None:
        try:
            outcome["value"] = _warm_up(backend, store, cfg, scenario)
        except BaseException as exc:  # noqa: BLE001 - raised again on the caller's thread
            outcome["error"] = exc
        finally:
            finished.set()

    threading.Thread(target=body, name="warm-up", daemon=True).start()
    while not finished.wait(0.25):  # an Event, not join(): the main thread stays free for Ctrl-C
        pass
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _warm_up(backend, store: SampleStore, cfg: RunConfig, scenario) -> tuple[Estimate, float, list[int], float]:
    batch_size = scenario.backend_batch(cfg)
    others = [b for b in scenario.warmup_batches(cfg) if b != batch_size]
    n = min(batch_size, store.total)
    store.load(range(n))
    indices = np.arange(batch_size) % n
    min_s, min_iters = (5.0, 10) if cfg.profile == "mlperf" else (1.0, 3)
    start = time.perf_counter()
    check_classes(backend, backend.predict(store.batch(indices)), batch_size)  # first call: compile, allocate
    backend.synchronize()
    first_call_s = time.perf_counter() - start  # a lazy compile's cost (torch.compile), apart from the rate
    times, total = [], 0.0  # a running total: sum(times) each turn is quadratic for a fast backend (null)
    while len(times) < min_iters or total < min_s:
        t = time.perf_counter()
        backend.predict(store.batch(indices, reuse=True))  # the batch copy too, as in the timed run
        backend.synchronize()
        times.append(time.perf_counter() - t)
        total += times[-1]
        if time.perf_counter() - start > 120:  # a very slow device: enough to estimate from
            break
    pipelined = _pipelined_rate(backend, store, indices, len(times)) if hasattr(backend, "submit") else None
    for size in others:
        check_classes(backend, backend.predict(store.batch(np.arange(size) % n)), size)
        backend.synchronize()
    store.unload(range(n))
    # The fastest turn, not the median: caches and oneDNN primitives keep warming after a few turns (bf16 on AMX
    # ran faster in LoadGen than its warm-up median and ended INVALID), and over-estimating only lengthens a run.
    per_batch = float(np.min(times))
    # Warm-up runs on one device; a multi-GPU backend's workers run on all of them at once. Likewise one batch
    # at a time uses one of an OpenVINO THROUGHPUT model's streams; the timed run keeps them all busy.
    rate = batch_size / per_batch * backend.parallel_devices * backend.parallel_streams
    rate = max(rate, pipelined or 0.0)
    estimate = Estimate(samples_per_second=rate, single_latency_s=per_batch / batch_size)
    return estimate, time.perf_counter() - start, sorted({batch_size, *others}), first_call_s


# What the backends name the compile or engine build they do in load() (backends/*: describe()).
COMPILE_KEYS = ("compile_s", "engine_build_s")


def compile_seconds(described: dict | None) -> float | None:
    """The compile or engine build the backend reports, part of load_s; None when it reports none."""
    for key in COMPILE_KEYS:
        value = (described or {}).get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def _pipelined_rate(backend, store: SampleStore, indices: np.ndarray, batches: int) -> float:
    """An asynchronous backend (sim) overlaps the next batch's gather with the device's work: its rate is a burst of
    submitted batches, not one synchronous predict() at a time (which under-sized Offline, INVALID for too short)."""
    batches = max(batches, 8)
    finished, left = threading.Event(), [batches]

    def done(classes, exc) -> None:
        left[0] -= 1  # one completion thread: no race
        if left[0] == 0:
            finished.set()

    start = time.perf_counter()
    for _ in range(batches):
        backend.submit(len(indices), lambda out: store.batch(indices, out=out), done)
    if not finished.wait(120):
        raise RuntimeError("warm-up: the backend's submitted batches did not complete in 120 s")
    return len(indices) * batches / (time.perf_counter() - start)
