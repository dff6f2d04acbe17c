"""One LoadGen run of a loaded backend: its settings and logs, the SUT and QSL it is handed, the live display, and
the performance section read from its detail log (never recomputed), with the process's CPU and the data path.

Only LoadGen times: from a query's issue to its QuerySamplesComplete. The session around it (bench/run/harness.py)
loads, warms up and writes the record.
"""

from __future__ import annotations

import resource
import threading
import time
from pathlib import Path

import mlperf_loadgen as lg
from rich.console import Console
from rich.live import Live

from bench import backends
from bench.errors import RunFailed
from bench.record import loadgen_log, schema
from bench.run import budget, endings
from bench.run.latency import LatencyRecorder
from bench.run.power import PowerMonitor
from bench.run.qsl import SampleStore, loader
from bench.run.settings import test_settings
from bench.run.sut import Responder
from bench.scenarios.base import Estimate
from bench.system import run_dir as layout

# The SUT's name over the network: MLPerf's Network division requires "Network SUT" in it.
NETWORK_SUT_NAME = "bench remote Network SUT"
# Seconds to let LoadGen wind down after Ctrl-C before the process leaves without it.
INTERRUPT_GRACE_S = 3.0


def run_loadgen(cfg, scenario, responder: Responder, store: SampleStore, estimate: Estimate, run_dir: Path,
                mode: str, console: Console, power: PowerMonitor | None = None,
                overrides: dict | None = None, audit_config: Path | None = None) -> schema.Performance | None:
    """One LoadGen run (its performance section; None for an accuracy run); `overrides` are TestSettings fields set
    last (short tuning runs); `audit_config` is the only audit.config LoadGen may read (bench audit's)."""
    log_dir = layout.loadgen_dir(run_dir, mode)
    log_dir.mkdir(parents=True, exist_ok=True)
    settings = test_settings(cfg, scenario, estimate, mode, store.performance_count)
    for key, value in (overrides or {}).items():
        setattr(settings, key, value)
    # Memory, before any work: the scenario says how many samples LoadGen will schedule.
    budget.check(settings, scenario, store.performance_count, budget.sample_bytes(store.dataset, store.form), mode)
    log_settings = lg.LogSettings()
    log_settings.log_output.outdir = str(log_dir)
    log_settings.log_output.copy_summary_to_stdout = False
    log_settings.enable_trace = False

    # LoadGen reads ./audit.config by default, so a stray one would audit any run: name one that never exists.
    audit_file = str(audit_config or log_dir / "no-audit.config")

    dispatcher = scenario.start(responder, cfg)  # owns this run's worker threads and queue
    issue = dispatcher.issue
    responder.latency = LatencyRecorder() if mode == "performance" else None
    if responder.latency is not None:
        issue = responder.latency.wrap(issue)
    network = getattr(responder.backend, "over_network", False)
    if network:  # MLPerf's Network division: LoadGen's SUT is a query dispatch library whose name says so
        sut = lg.ConstructQDL(lambda samples, issue=issue: issue([s.id for s in samples], [s.index for s in samples]),
                              dispatcher.flush, lambda: NETWORK_SUT_NAME)
    else:
        sut = lg.ConstructFastSUT(issue, dispatcher.flush)  # ids and indices as lists: no Python object per sample
    qsl = lg.ConstructQSL(store.total, store.performance_count, *loader(store, responder.backend))
    done_before, counts_before = responder.completed, responder.counts()
    finished = threading.Event()
    raised: list[BaseException] = []

    def loadgen() -> None:
        try:
            lg.StartTestWithLogSettings(sut, qsl, settings, log_settings, audit_file)
        except BaseException as exc:  # noqa: BLE001 - reported below: the run is failed with LoadGen's words
            raised.append(exc)
        finally:
            finished.set()

    # Completion is an Event, not Thread.join/is_alive: on Python 3.11 a Ctrl-C that lands inside join()
    # marks a still-running thread as stopped (the bpo-45274 handling), and destroying the SUT under a
    # running LoadGen crashes the process.
    thread = threading.Thread(target=loadgen, name="loadgen", daemon=True)
    start = time.perf_counter()
    if power:
        power.start()
    console.print(f"running LoadGen {scenario.loadgen_name} ({mode})")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    thread.start()
    try:
        # LoadGen runs on its own thread so this one stays free for the display and for Ctrl-C.
        with Live(console=console, refresh_per_second=4, transient=True) as live:
            while not finished.wait(0.25):
                done = responder.completed - done_before
                elapsed = time.perf_counter() - start
                live.update(f"[bold]{cfg.scenario}[/] {mode} · {elapsed:6.1f} s · {done} samples · "
                            f"{done / elapsed if elapsed else 0:,.1f} samples/s")
    except KeyboardInterrupt as exc:
        responder.stop.set()  # answer the rest at once so LoadGen can finish and flush its logs
        if not finished.wait(INTERRUPT_GRACE_S):  # LoadGen has no abort: its schedule may outlast the grace
            exc.loadgen_left = f"LoadGen's {mode} run had not ended {INTERRUPT_GRACE_S:g} s later; left running"
        raise
    finally:
        if power:
            power.stop()
        if finished.is_set():  # else LoadGen still runs: leave its objects alone, the process exits soon
            dispatcher.close()
            lg.DestroyQSL(qsl)
            (lg.DestroyQDL if network else lg.DestroyFastSUT)(sut)
    if responder.error is not None:
        exc = responder.error
        raise RunFailed(f"backend {backends.label(cfg.backend)} raised during the run: "
                        f"{type(exc).__name__}: {exc}") from exc
    endings.check_loadgen(raised, log_dir, mode)  # LoadGen raised, or gave no result: failed
    if mode == "accuracy":
        return None
    detail = log_dir / layout.DETAIL
    if not detail.exists():
        raise RunFailed(f"LoadGen wrote no detail log in {log_dir}")
    perf = loadgen_log.performance(loadgen_log.read_detail(detail), scenario)
    perf.cpu = cpu_usage(usage, time.perf_counter() - start)
    perf.latencies = responder.latency.save(run_dir)  # per-query latencies for reports
    perf.data_path = responder.data_path(counts_before)  # the form and copies the timed batches really took
    if scenario.has_latency_bound:  # Server: was a miss LoadGen's issue lag or the SUT's own time?
        perf.issue_lag = responder.latency.issue_lag(perf)
    responder.latency = None
    return perf


def cpu_usage(before, seconds: float) -> schema.Cpu:
    """The whole process over a LoadGen run: cores busy in user and kernel mode, and page faults. Kernel time with
    many minor faults is memory handed back to the OS and faulted in again (bench/system/malloc.py)."""
    now = resource.getrusage(resource.RUSAGE_SELF)
    return schema.Cpu(seconds=round(seconds, 3),
                      user_cores=round((now.ru_utime - before.ru_utime) / seconds, 3),
                      system_cores=round((now.ru_stime - before.ru_stime) / seconds, 3),
                      minor_faults_per_s=round((now.ru_minflt - before.ru_minflt) / seconds, 1),
                      major_faults=now.ru_majflt - before.ru_majflt)
