"""What the benchmark scripts share: a loaded backend on synthetic data, one LoadGen run through the harness's own
functions (warm_up, run_loadgen, SampleStore, Responder), and the raw batch loop the harness is compared against."""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python benchmarks/x.py` from a checkout
    sys.path.insert(0, str(ROOT))

from bench import backends, models, scenarios  # noqa: E402
from bench.config.run_config import RunConfig  # noqa: E402
from bench.data.dataset import Dataset, SyntheticDataset  # noqa: E402
from bench.record import codec  # noqa: E402
from bench.run.loadgen_run import run_loadgen  # noqa: E402
from bench.run.qsl import SampleStore  # noqa: E402
from bench.run.sut import Responder  # noqa: E402
from bench.run.warmup import warm_up  # noqa: E402
from bench.system import malloc  # noqa: E402

QUIET = Console(file=io.StringIO())  # run_loadgen's live display goes nowhere


class ArrayDataset(Dataset):
    """Seeded synthetic samples made once and kept: loading them for LoadGen costs a copy, not a random draw, so
    the CPU time of a run is the harness's and the backend's."""

    synthetic = True

    def __init__(self, count: int, size: int, seed: int = 0):
        source = SyntheticDataset(count, size, seed)
        self.array = np.stack([source.sample(i) for i in range(count)])

    def __len__(self) -> int:
        return len(self.array)

    def sample(self, index: int) -> np.ndarray:
        return self.array[index]

    def describe(self) -> dict:
        return {"kind": "synthetic", "count": len(self.array), "synthetic": True}


@dataclass
class Loaded:
    cfg: RunConfig
    backend: object
    store: SampleStore

    def close(self) -> None:
        self.backend.close()


@dataclass
class Rate:
    """Samples/s on the wall clock, and samples per CPU-second of this whole process (all its threads): the second
    hardly moves when other jobs share the machine, so it shows the harness's own cost where the first is noisy."""

    samples_per_s: float
    samples_per_cpu_s: float


def load(backend: str, scenario: str = "offline", model: str = "resnet18", batch_size: int = 8,
         threads: int | None = 1, count: int = 64, image_size: int | None = None, **cfg) -> Loaded:
    """A backend loaded as `bench run` loads it, over `count` seeded synthetic images (`image_size` for null)."""
    cfg = RunConfig(backend=backend, scenario=scenario, model=model, batch_size=batch_size, threads=threads,
                    count=count, **cfg)
    malloc.apply(cfg.malloc)  # as bench run's session does, before the backend loads
    spec = models.resolve(cfg.model, cfg.weights, cfg.onnx, cfg.seed)
    scenario = scenarios.get(cfg.scenario)  # the batch and intent are the scenario's, as in bench run's session
    options = backends.BackendOptions(cfg.precision, cfg.device, scenario.backend_batch(cfg), cfg.threads,
                                      scenario.intent, cfg.extra)
    instance = backends.create(backend, options)
    instance.load(spec, options)
    store = SampleStore(ArrayDataset(count, image_size or spec.input_size, cfg.seed))
    return Loaded(cfg, instance, store)


def loadgen(loaded: Loaded, estimate=None, **changes) -> dict:
    """One LoadGen performance run through bench.run.loadgen_run.run_loadgen; the record's performance section.

    `changes` replace RunConfig fields (scenario, target_qps, duration_s, batch_size ...).
    """
    cfg = loaded.cfg.replace(**changes)
    if estimate is None:
        estimate = warm_up(loaded.backend, loaded.store, cfg, scenarios.get(cfg.scenario))[0]
    with tempfile.TemporaryDirectory(prefix="bench-perf-") as run_dir:
        cpu = time.process_time()
        perf = codec.as_json(run_loadgen(cfg, scenarios.get(cfg.scenario), Responder(loaded.backend, loaded.store),
                                         loaded.store, estimate, Path(run_dir), "performance", QUIET))
        perf["cpu_s"] = time.process_time() - cpu
        return perf


def estimate(loaded: Loaded):
    """The harness's warm-up (untimed) and its rate estimate, once per loaded backend."""
    return warm_up(loaded.backend, loaded.store, loaded.cfg, scenarios.get(loaded.cfg.scenario))[0]


def raw_loop(loaded: Loaded, seconds: float) -> Rate:
    """Samples/s of the backend alone: `predict` on ready-made contiguous batches of the same samples, from as many
    threads as the harness runs workers (backend.concurrency), for at least `seconds`. No LoadGen, no gather copy,
    no response: what a hand-written loop over the backend measures."""
    store, backend, batch = loaded.store, loaded.backend, loaded.cfg.batch_size
    store.load(range(store.performance_count))
    data = store.data
    batches = [data[k:k + batch] for k in range(0, len(data) - batch + 1, batch)] or [data]
    workers = getattr(backend, "concurrency", 1)
    done = [0] * workers
    stop = threading.Event()

    def work(w: int) -> None:
        k = w
        while not stop.is_set():
            b = batches[k % len(batches)]
            backend.predict(b)
            done[w] += len(b)
            k += workers

    backend.predict(batches[0])  # same warm state as the harness run
    backend.synchronize()
    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in range(workers)]
    start, cpu = time.perf_counter(), time.process_time()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    backend.synchronize()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    store.unload(range(store.performance_count))
    return Rate(sum(done) / elapsed, sum(done) / cpu)


def median(values) -> float:
    return float(statistics.median(values))


def banner(args, per: str) -> dict:
    """Print a script's first line (UTC time, CPU, batch, threads, rounds) and return the system record, so every
    figure printed after it says which CPU it came from."""
    from datetime import datetime, timezone

    from bench.system.sysinfo import collect

    system = collect(None)
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {system.get('cpu')}, batch {args.batch_size}, threads "
          f"{args.threads or 'default'}, {args.rounds} rounds x {args.seconds:g} s per {per}", flush=True)
    return system
