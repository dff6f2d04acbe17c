"""What a scenario is: everything about it lives in its own module, and the rest of the harness asks it.

A scenario declares LoadGen's name, MLPerf's headline metric (the detail-log field the official submission
checker reads), the figures shown beside it, its submission folder, how it sizes a quick run from the
warm-up, how many samples LoadGen schedules for its settings (the memory budget), what `bench tune` searches
and writes to user.conf, the batch and intent it gives the backend, and how it dispatches LoadGen's queries to
the backend (a Dispatcher per run, owning that run's threads and queue).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from bench.record.schema import Figure  # declared with the record it is written into

# Size LoadGen's runs for 1.5x the work the measured rate promises: too few samples or queries end a run before its
# minimum duration (INVALID); too many only lengthen it. A short measurement under-reads a backend that keeps
# speeding up (+10% was not enough in CI).
SIZING_HEADROOM = 1.5


@dataclass
class Estimate:
    """Measured in the untimed warm-up: sizes LoadGen's run so the minimum duration is met, not missed."""

    samples_per_second: float
    single_latency_s: float


@dataclass(frozen=True)
class TuneTarget:
    """What `bench tune` finds for a scenario and the user.conf key it writes it to."""

    conf_key: str  # user.conf key, e.g. "target_qps"
    search: str  # "qps-under-bound" (Server's bisection) or "measure" (one short measuring run)
    figure: str = ""  # for "measure": "samples_per_second" or a key of the record's latency_ms
    headroom: float = 1.0  # the measured value times this is written (see SIZING_HEADROOM)


class Scenario:
    name: str = ""  # the CLI's name
    loadgen_name: str = ""  # as LoadGen, user.conf and the submission tree spell it
    metric: Figure  # MLPerf's headline
    secondary: tuple[Figure, ...] = ()  # shown beside the metric
    intent: str = "throughput"  # what the backend should optimise: "throughput" or "latency"
    tune: TuneTarget
    # TestSettings fields a quick run sets, and the user.conf keys that name them (a user.conf key wins)
    conf_keys: dict[str, set[str]] = {}
    advice: str = ""  # the usual fix for an INVALID run, when LoadGen's reason says nothing more telling
    has_latency_bound: bool = False  # --latency-bound-ms applies (Server)
    joins_queries: bool = False  # its dispatcher batches several LoadGen queries into one backend call (Server)
    suites: tuple[str, ...] = ()  # the MLPerf suites (system types) that require this scenario
    # The compliance scripts relax their 10% threshold to 20% when this scenario's metric, in ns, is at most
    # this (latencies so short that OS noise matters); None: never.
    audit_noise_ns: float | None = None

    @property
    def loadgen_scenario(self):
        import mlperf_loadgen as lg  # here, not at the top: `bench --help` reads the registry without LoadGen

        return getattr(lg.TestScenario, self.loadgen_name)

    @property
    def submission_dir(self) -> str:
        return self.loadgen_name

    def backend_batch(self, cfg) -> int:
        """The largest batch this scenario hands the backend."""
        return cfg.batch_size

    def pads(self, cfg) -> bool:
        """Whether partial batches are padded to the full batch (computed, never answered)."""
        return False

    def warmup_batches(self, cfg) -> list[int]:
        """Batch sizes to run once, untimed, before LoadGen: every shape the timed run can issue, so no runtime
        (cuDNN's algorithm search, onnxruntime's memory plans) meets a new shape inside the timed region."""
        return [self.backend_batch(cfg)]

    def quick_settings(self, cfg, estimate: Estimate) -> dict:
        """TestSettings fields for --profile quick (skipped where user.conf names the key)."""
        raise NotImplementedError

    def explicit_settings(self, cfg) -> dict:
        """TestSettings fields the user gave on the command line: these win over user.conf and profile."""
        return {}

    def conf_lines(self, model: str, perf: dict) -> list[str]:
        """user.conf lines that reproduce a recorded run's LoadGen settings (for a submission's user.conf)."""
        return []

    def scheduled_samples(self, ts) -> float:
        """Samples LoadGen schedules up front for these TestSettings in a performance run, before the query-count
        bounds (bench/run/budget.py applies those): what a run's memory is estimated from. Every scenario answers
        for its own settings; none inherits another's estimate."""
        raise NotImplementedError(f"scenario {self.name} does not say how many samples LoadGen schedules")

    def start(self, responder, cfg) -> Dispatcher:
        """A Dispatcher for this run: LoadGen's callbacks, and any worker threads and queue behind them. Each call
        makes a fresh one, so runs on one scenario object (tune, audit) never share threads."""
        raise NotImplementedError


class Dispatcher:
    """One LoadGen run's dispatch: `issue(ids, indices)` and `flush()` for lg.ConstructFastSUT (ids: LoadGen's
    response ids, indices: sample indices, two lists), and the worker pool it hands queries to, stopped by close()."""

    def __init__(self, issue: Callable[[list[int], list[int]], None], workers: WorkerPool | None = None):
        self.issue, self.workers = issue, workers

    def flush(self) -> None:
        """LoadGen's flush_queries: nothing is held back, every query is handed on when issued."""

    def close(self) -> None:
        """Stop the workers (after LoadGen has finished: every query is answered by then)."""
        if self.workers is not None:
            self.workers.close()


class WorkerPool:
    """`count` threads (the backend's `concurrency`), each running `work(queue)` on one shared queue; `None` in the
    queue stops one worker."""

    def __init__(self, work: Callable[[queue.SimpleQueue], None], count: int, name: str):
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.threads = [threading.Thread(target=work, args=(self.queue,), daemon=True, name=f"{name}-{i}")
                        for i in range(count)]
        for t in self.threads:
            t.start()

    def close(self) -> None:
        threads, self.threads = self.threads, []
        for _ in threads:
            self.queue.put(None)
        for t in threads:
            t.join()


# Figures every latency scenario shows beside its metric.
P90 = Figure("result_90.00_percentile_latency_ns", "p90 latency", "ms", False)
P99 = Figure("result_99.00_percentile_latency_ns", "p99 latency", "ms", False)
