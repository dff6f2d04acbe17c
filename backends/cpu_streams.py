"""`--streams N` on the CPU: N inferences at once, the cores divided between them.

Small models (ResNet-18, EfficientNet-Lite0) do not fill many cores with one inference's intra-op parallelism;
several independent inferences, each on its share of the threads, do. `--threads` stays the total: each stream
gets threads // streams (at least one each, else refused). A backend that honours streams calls `apply()`, which
sets `concurrency` (the scenarios start that many worker threads) and `parallel_streams` (the warm-up, one batch
at a time, saw one).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from bench.errors import UsageError


def cores() -> int:
    """CPUs this process may run on (a container's or taskset's limit, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def physical_cores() -> int:
    """Physical cores among the CPUs this process may use (SMT siblings counted once): the runtimes' own default."""
    allowed = set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    seen, cpu, ids = set(), None, {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "processor":
                    cpu, ids = int(value), {}
                elif key in ("physical id", "core id"):
                    ids[key] = value.strip()
                    if len(ids) == 2 and (allowed is None or cpu in allowed):
                        seen.add((ids["physical id"], ids["core id"]))
    except OSError:
        pass
    return len(seen) or cores()


@dataclass(frozen=True)
class Split:
    streams: int  # inferences in flight at once
    threads: int  # total inference threads
    per_stream: int  # each inference's intra-op threads

    def describe(self) -> dict:
        return {"streams": self.streams, "threads": self.threads, "threads_per_stream": self.per_stream}


def split(options, default_threads: int | None = None) -> Split:
    """Streams and threads for this run: --streams (default 1) and --threads (default: every core) divided."""
    streams = int(options.extra.get("streams") or 1)
    total = options.threads or default_threads or cores()
    if streams > total:
        raise UsageError(f"--streams {streams} needs at least one thread each, but --threads is {total}: "
                         f"give --threads {streams} or more, or fewer streams")
    if options.intent == "latency" and streams > 1:
        raise UsageError(f"--streams {streams}: a latency scenario has one query in flight, so only one stream "
                         "would ever run; drop --streams, or use --scenario offline or server")
    return Split(streams, total - total % streams, total // streams)


def apply(backend, options, default_threads: int | None = None) -> Split | None:
    """The one place a CPU backend takes its split: sets `backend.split` and the concurrency the scenarios read
    (`concurrency`, `parallel_streams`: one worker thread per stream). None on any other device."""
    backend.split = None
    if options.device.split(":")[0] != "cpu":
        return None
    backend.split = split(options, default_threads)
    backend.concurrency = backend.parallel_streams = backend.split.streams
    return backend.split


def release_openmp_team() -> list[str]:
    """Release the calling thread's OpenMP team in every libgomp loaded; returns the libraries released.

    Loading runs torch on the main thread, which leaves that thread a team of idle OpenMP threads. libgomp counts
    them among the threads it manages, and once that count passes the CPUs it lets every team's threads spin only
    briefly before they sleep (its throttled spin): the inferring threads' teams then sleep and wake around each
    of a model's many short operators. On a 2-core AMD EPYC (benchmarks/malloc_openmp.py), EfficientNet-Lite0 on a
    worker thread with freed memory kept used 1.68 of 2 cores; with the main thread's team released too, 1.99 cores
    and 1.09x the rate (ResNet-50: 1.89 and 1.99 cores, 1.03x). Inference never runs on the main thread, so nothing
    there needs the team.
    """
    import ctypes

    released = []
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "libgomp" in line.rsplit("/", 1)[-1]})
    except OSError:  # not Linux: no libgomp to release
        return released
    for path in paths:
        pause = getattr(ctypes.CDLL(path), "omp_pause_resource_all", None)  # OpenMP 5.0: GCC 9 and later
        if pause is not None and pause(1) == 0:  # omp_pause_soft: threads end, state is rebuilt on next use
            released.append(path)
    return released
