"""sim: a simulated accelerator, so the harness's data path and dispatch are measured on a CPU against a known device.

The device model: a batch of n takes a + b*n microseconds; k batches run at once. Each batch's completion time is
exact, fixed when it is submitted: max(submit time, the time a device slot frees) + a + b*n. Nothing computes: the
completion thread sleeps (no GIL held) until the earliest completion, then hands the batch's class ids back. So
whatever the run loses against the model's capacity (k / b samples/s at large batches) is the harness's: its
gather, its hand-offs, LoadGen's callbacks, the completion thread waking late (recorded as completion lag).

The host data path is the real one an accelerator takes: samples held as uint8 NHWC (150 KB each at 224x224, as
a device that normalises on its side is sent), gathered by the QSL straight into one of the device's staging
buffers (the batch's only host copy), submitted without blocking while a buffer is free, completed by one thread.
Hidden from `bench backends` like null; `bench run --backend sim` runs it.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import sys
import threading
import time
from typing import TYPE_CHECKING

from bench.backends.base import Availability, Backend, BackendOptions, Support
from bench.errors import RunFailed

if TYPE_CHECKING:  # type hints only: the declarations import without numpy (`bench run --help`)
    import numpy as np

DEFAULT_A_US, DEFAULT_B_US, DEFAULT_INFLIGHT = 300.0, 45.0, 1
# Staging buffers: k computing, one submitted behind them (so the device never waits for the host), one filling.
SPARE_BUFFERS = 2
# A submit waits at most this long for a free staging buffer: a device that never completes is a bug to stop on.
BUFFER_WAIT_S = 60.0
# The completion thread sleeps until this long before a batch is due, then polls: a timed wake on Linux lands
# 40-60 us late (measured on this 2-core VM, 1 ns timer slack), as much as SingleStream's whole budget over a + b.
# CUDA's default scheduling spins likewise when the host has cores to spare.
SPIN_S = 100e-6
PR_SET_TIMERSLACK = 29  # Linux prctl: a thread's timer slack, 50 us by default, added to every timed wait


def _tight_timers() -> bool:
    """Ask Linux for 1 ns timer slack on this thread: a real device's completion is an event, not a late timer."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def classes_of(batch: np.ndarray) -> np.ndarray:
    """The "inference": a deterministic function of each sample's first bytes, so accuracy mode runs end to end."""
    flat = batch.reshape(len(batch), -1)[:, :16]
    return flat.sum(axis=1, dtype="int64") % 1000


class SimBackend(Backend):
    name = "sim"
    # Any precision, modelled, not computed (the record says so): on the "cpu" device kind, since it runs there.
    SUPPORTS = {"cpu": Support(("fp32", "bf16", "fp16", "int8"), options=("sim_a_us", "sim_b_us", "sim_inflight"))}
    sample_form = "uint8-nhwc"  # what bench/run/qsl.py holds for it

    @classmethod
    def probe(cls) -> Availability:
        return Availability(True, version="model", devices=["cpu"])

    def load(self, model, options: BackendOptions) -> None:
        extra = options.extra

        def given(key, default):
            return default if extra.get(key) is None else extra[key]  # a = 0 is a value, not "unset"

        self.a_s = float(given("sim_a_us", DEFAULT_A_US)) / 1e6
        self.b_s = float(given("sim_b_us", DEFAULT_B_US)) / 1e6
        self.k = int(given("sim_inflight", DEFAULT_INFLIGHT))
        self.options, size = options, model.input_size
        # np.full writes every page now: np.zeros' untouched pages would fault in during the timed run.
        import numpy as np

        self.buffers = [np.full((options.batch_size, size, size, 3), 0, np.uint8) for _ in range(self.k + SPARE_BUFFERS)]
        self.free = list(range(len(self.buffers)))  # staging buffers not in flight
        self.slots = [0.0] * self.k  # when each of the k device slots is next free (perf_counter seconds), a heap
        self.pending: list = []  # (completion time, seq, buffer, what the device reads, done), a heap
        self.seq = itertools.count()
        self.cond = threading.Condition()
        self.closed = False
        self.tight_timers = False
        self.callback_error: BaseException | None = None
        self.reset_stats()
        self.thread = threading.Thread(target=self._complete, name="sim-completion", daemon=True)
        self.thread.start()
        print(f"sim device: a={self.a_s * 1e6:g} us, b={self.b_s * 1e6:g} us/sample, k={self.k}: ceiling "
              f"{self.ceiling():,.0f} samples/s, {self.capacity(options.batch_size):,.0f} at batch "
              f"{options.batch_size}", file=sys.stderr)

    def ceiling(self) -> float:
        """The model's capacity at unbounded batches: k / b samples/s."""
        return self.k / self.b_s

    def capacity(self, n: int) -> float:
        """The model's capacity at batches of n: k * n / (a + b*n) samples/s."""
        return self.k * n / (self.a_s + self.b_s * n)

    def ready(self) -> None:
        """Block until a batch submitted now would be the only one waiting behind those running: a batcher that
        forms its batch at this moment gives it every sample that arrived while the device was busy, and the device
        still never waits for the host (the batch is gathered while the running ones finish)."""
        with self.cond:  # (a batch popped for its last SPIN_S is not counted: it frees its slot that soon)
            if not self.cond.wait_for(lambda: self.closed or (len(self.pending) <= self.k and self.free), BUFFER_WAIT_S):
                raise RunFailed(f"sim: the device took no batch for {BUFFER_WAIT_S:g} s")

    def submit(self, n: int, fill, done) -> None:
        """Gather a batch of n into a free staging buffer (`fill(out)`, the QSL's one host copy, returns what the
        device reads: `out`, or a block of the store already in place) and queue it; returns at once unless every
        buffer is in flight. `done(classes, error)` is called from the completion thread."""
        if self.callback_error is not None:
            raise RunFailed(f"sim: a completion callback raised: {self.callback_error!r}")
        with self.cond:
            deadline = time.monotonic() + BUFFER_WAIT_S
            while not self.free:
                if self.closed or not self.cond.wait(deadline - time.monotonic()):
                    raise RunFailed(f"sim: no staging buffer came free in {BUFFER_WAIT_S:g} s")
            buffer = self.free.pop()
        try:
            data = fill(self.buffers[buffer][:n])  # the staging buffer, or a block of the store read in place
        except BaseException:
            with self.cond:
                self.free.append(buffer)
                self.cond.notify_all()
            raise
        with self.cond:
            now = time.perf_counter()
            start = max(now, heapq.heappop(self.slots))
            end = start + self.a_s + self.b_s * n
            heapq.heappush(self.slots, end)
            heapq.heappush(self.pending, (end, next(self.seq), buffer, data, done))
            self.counters["batches"] += 1
            self.counters["samples"] += n
            self.counters["device_busy_s"] += end - start
            self.counters["queued_s"] += start - now
            self.cond.notify_all()

    def _complete(self) -> None:
        """The completion thread: sleeps until the earliest batch is nearly done, reads its input (the device's
        answer is ready when it completes), polls to the completion time, frees the buffer, answers."""
        self.tight_timers = _tight_timers()
        cond, pending, clock = self.cond, self.pending, time.perf_counter
        while True:
            with cond:
                while not self.closed and (not pending or pending[0][0] - clock() > SPIN_S):
                    cond.wait(pending[0][0] - clock() - SPIN_S if pending else None)
                if self.closed and not pending:
                    return
                end, _, buffer, data, done = heapq.heappop(pending)
            classes = classes_of(data)
            while clock() < end:  # the last stretch polled, lock released: a timed wake lands 40-60 us late
                pass
            lag = clock() - end
            with cond:
                self.free.append(buffer)
                self.counters["completion_lag_s"] += lag
                self.counters["max_completion_lag_s"] = max(self.counters["max_completion_lag_s"], lag)
                cond.notify_all()
            try:
                done(classes, None)
            except BaseException as exc:  # noqa: BLE001 - the device thread lives on; the next submit raises it
                self.callback_error = exc

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Synchronous, for the warm-up and agreement checks: the batch is copied into staging (a second host
        copy, counted), as a device that is given someone else's buffer must."""
        result: dict[str, np.ndarray] = {}
        finished = threading.Event()

        def fill(out):
            out[...] = batch
            self.counters["extra_copies"] += 1
            return out

        def done(classes, exc) -> None:
            result["classes"] = classes
            finished.set()

        self.submit(len(batch), fill, done)
        if not finished.wait(BUFFER_WAIT_S):
            raise RunFailed(f"sim: a batch did not complete in {BUFFER_WAIT_S:g} s")
        return result["classes"]

    def reset_stats(self) -> None:
        self.counters = {"batches": 0, "samples": 0, "device_busy_s": 0.0, "queued_s": 0.0, "extra_copies": 0,
                       "completion_lag_s": 0.0, "max_completion_lag_s": 0.0}

    def run_stats(self) -> dict:
        """The device's side of the timed run: batches, mean batch, busy time, how late completions were seen."""
        s, batches = dict(self.counters), max(self.counters["batches"], 1)
        return {"batches": s["batches"], "samples": s["samples"], "mean_batch": round(s["samples"] / batches, 2),
                "device_busy_s": round(s["device_busy_s"], 4), "extra_copies": s["extra_copies"],
                "mean_queued_us": round(s["queued_s"] / batches * 1e6, 1),
                "mean_completion_lag_us": round(s["completion_lag_s"] / batches * 1e6, 1),
                "max_completion_lag_us": round(s["max_completion_lag_s"] * 1e6, 1)}

    def describe(self) -> dict:
        return {"name": self.name, "device": "cpu", "modelled": "an accelerator, on the CPU", "precision": self.options.precision,
                "note": "models a + b*n us per batch, k in flight; computes nothing",
                "model": {"a_us": self.a_s * 1e6, "b_us": self.b_s * 1e6, "inflight": self.k,
                          "ceiling_samples_per_s": round(self.ceiling(), 1),
                          "capacity_at_batch": {"batch": self.options.batch_size,
                                                "samples_per_s": round(self.capacity(self.options.batch_size), 1)}},
                "staging_buffers": len(self.buffers), "sample_form": self.sample_form,
                "completion_timer_slack_1ns": self.tight_timers}

    def close(self) -> None:
        cond = getattr(self, "cond", None)
        if cond is None:
            return
        with cond:
            self.closed = True
            cond.notify_all()
        self.thread.join(BUFFER_WAIT_S)
