"""`bench tune`: which batch size, streams and threads run best here, for the scenario's own figure.

Coordinate descent over a small grid: from the given configuration, step one axis at a time (streams, batch,
threads) to its neighbour values while a trial's score beats the best by more than MIN_GAIN, until no step helps
or the trial budget is spent. The score is the caller's (bench/mlperf/tune.py), higher is better: Offline
samples/s, Server the highest QPS that passes a short search under the latency bound, SingleStream one stream's
queries/s (1000 / mean latency in ms). A latency scenario has one query in flight, so only its threads are
searched. Each trial is a fresh session (a new batch size, stream count or thread count needs a reload: compiled
shapes, sessions, thread pools), so trials are short; the caller confirms the best with a full run. Trials that a
backend refuses (e.g. more streams than threads) are skipped, and the record says why.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console

from bench.backends import honouring
from bench.backends.cpu_streams import cores, physical_cores
from bench.config.run_config import RunConfig
from bench.errors import BenchError, RunFailed
from bench.run import harness

BATCHES = (1, 2, 4, 8, 16, 32, 64)
# A step must beat the best so far by this much: short runs on a busy machine differ by a few percent anyway.
MIN_GAIN = 0.03


class NothingPassed(BenchError):
    """A configuration that ran but scored nothing (Server: no QPS kept p99 under the bound): it scores 0, so the
    search still moves from it (a smaller batch may pass where the given one cannot)."""


@dataclass
class GridTrial:
    batch_size: int
    streams: int
    threads: int
    score: float | None
    run_dir: str | None
    why: str = ""


def axes(cfg: RunConfig, scenario) -> dict[str, list[int]]:
    """The values each axis may take for this backend, device and scenario."""
    n = cores()
    threads = sorted({max(1, n // 2), physical_cores(), n, *([cfg.threads] if cfg.threads else [])})
    if scenario.intent == "latency":  # batch 1, one query in flight: streams would idle
        return {"streams": [1], "batch_size": [cfg.batch_size], "threads": threads}
    honours = cfg.backend in honouring("streams") and cfg.device.startswith("cpu")
    streams = sorted({1, 2, 4, 8} & set(range(1, n + 1))) if honours else [1]
    return {"streams": streams, "batch_size": sorted({*BATCHES, cfg.batch_size}), "threads": threads}


def configured(cfg: RunConfig, point: dict[str, int]) -> RunConfig:
    extra = {k: v for k, v in cfg.extra.items() if k != "streams"}
    if point["streams"] > 1:  # one stream is the default: the printed command stays minimal
        extra["streams"] = point["streams"]
    return cfg.replace(batch_size=point["batch_size"], threads=point["threads"], extra=extra)


def search(cfg: RunConfig, scenario, score: Callable[[harness.Session], float], unit: str, output: Path,
           console: Console, trial_s: float, max_trials: int = 12) -> dict:
    """The best-scoring point found and every trial; `best` is a RunConfig ready for the confirming run.
    `score(session)` measures one loaded configuration (higher is better, in `unit`)."""
    grid = axes(cfg, scenario)
    console.print(f"[bold]searching {' x '.join(k for k, v in grid.items() if len(v) > 1)}[/] by {unit} (short "
                  f"{scenario.loadgen_name} runs, a fresh load each)")
    start = {"streams": int(cfg.extra.get("streams") or 1), "batch_size": cfg.batch_size,
             "threads": cfg.threads or physical_cores()}
    trials: list[GridTrial] = []
    seen: dict[tuple, float | None] = {}

    def measure(point: dict[str, int]) -> float | None:
        key = tuple(point[a] for a in grid)
        if point["streams"] > point["threads"]:  # not a configuration (each stream needs a thread): no trial
            return None
        if key not in seen:
            seen[key] = _trial(configured(cfg, point), score, unit, output, console, trial_s, trials)
        return seen[key]

    best, best_score = dict(start), measure(start)
    if best_score is None:
        raise BenchError(f"the starting configuration ran no trial ({trials[-1].why}): see {output}")
    improved = True
    while improved and len(trials) < max_trials:
        improved = False
        for axis, values in grid.items():
            i, moved = (values.index(best[axis]) if best[axis] in values else 0), False
            for j in (i + 1, i - 1):  # up first: more batch, streams or threads usually fills the cores better
                # While nothing has passed (Server: every batch so far too slow for the bound), a smaller batch is
                # the knob that shortens each query: walk down the batch axis until one passes.
                while 0 <= j < len(values) and len(trials) < max_trials:
                    point = {**best, axis: values[j]}
                    got = measure(point)
                    if got is not None and got > best_score * (1 + MIN_GAIN):
                        best, best_score, improved, moved = point, got, True, True
                        break
                    walk_down = not best_score and got is not None and axis == "batch_size" and j < i
                    if not walk_down:
                        break
                    j -= 1
                if moved:
                    break
    if not best_score:
        raise RunFailed(f"no configuration tried scored anything: {next(t.why for t in trials if t.why)}; see "
                        f"{output}")
    console.print(f"[bold]best[/]: batch {best['batch_size']}, streams {best['streams']}, threads "
                  f"{best['threads']}: {best_score:,.2f} {unit}")
    return {"best": configured(cfg, best), "point": best, "score": best_score, "unit": unit, "start": start,
            "start_score": seen[tuple(start[a] for a in grid)], "grid": grid,
            "trials": [asdict(t) for t in trials], "min_gain": MIN_GAIN}


def _trial(cfg: RunConfig, score, unit: str, output: Path, console: Console, trial_s: float,
           trials: list[GridTrial]) -> float | None:
    streams = int(cfg.extra.get("streams") or 1)
    trial = GridTrial(cfg.batch_size, streams, cfg.threads, None, None)
    trials.append(trial)
    quiet = Console(file=io.StringIO())  # a trial's own progress lines would flood the search's
    try:
        with harness.session(cfg.replace(output=str(output), duration_s=trial_s, mode="performance",
                                         target_qps=None, user_conf=None), quiet) as s:
            trial.run_dir = str(s.run_dir)
            trial.score = score(s)
    except NothingPassed as exc:
        trial.score, trial.why = 0.0, str(exc)
    except harness.Interrupted:  # a signal stops the whole search, never just this trial
        raise
    except BenchError as exc:  # refused or failed: skipped, with the reason
        trial.why = str(exc).splitlines()[0]
    shown = f"{trial.score:,.2f} {unit}" + (f" ({trial.why})" if trial.why else "") if trial.score is not None \
        else f"skipped ({trial.why})"
    console.print(f"  trial {len(trials)}: batch {trial.batch_size}, streams {streams}, threads {trial.threads} -> "
                  f"{shown}")
    return trial.score
