"""One run end to end: model, data, backend, warm-up (untimed), LoadGen per mode, the result record.

Only LoadGen times: from a query's issue to its QuerySamplesComplete, which covers batch assembly
(the host copy), any host-to-device copy, inference, argmax and the response.
"""

from __future__ import annotations

import time
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from bench import backends, models, scenarios
from bench.backends import declared
from bench.config.run_config import RunConfig
from bench.data.source import open_dataset
from bench.errors import BenchError, RunFailed, UsageError
from bench.models import onnx_input
from bench.record import accuracy, codec, results, schema, snapshot
from bench.run.loadgen_run import run_loadgen
from bench.run.power import PowerMonitor
from bench.run.qsl import FLOAT32_NCHW, SampleStore
from bench.run.sut import Responder
from bench.run.warmup import compile_seconds, warm_up
from bench.system import malloc, signals, sysinfo
from bench.system import run_dir as layout

TIMED_REGION = ("LoadGen's per-query latency, issue to QuerySamplesComplete: batch assembly (host copy), "
                "host-to-device copy, inference, argmax and response. Excludes model load, compile and warm-up.")


Interrupted = signals.Interrupted  # a signal stopped the run; its record is written (bench/system/signals.py)


class Session:
    """One loaded, warmed-up backend with its data and its run's record. `bench run` measures on it once;
    `bench tune` and `bench audit` make their extra LoadGen runs on the same one."""

    def __init__(self, cfg: RunConfig, console: Console, annotate: dict | None = None):
        self.cfg, self.console = cfg, console
        try:
            self._prepare(cfg, annotate or {})
        except KeyboardInterrupt as exc:  # a signal while loading or preprocessing: the run still leaves a record
            signals.note_interrupt(exc)
            if self.backend is not None:
                self.backend.close()
            if self.run_dir is None:
                self.run_id, self.run_dir = results.create_run_dir(cfg.output, cfg.backend, cfg.scenario)
                self.record = results.new_record(self.run_id, cfg.to_record())
            record = self.record
            record.status, record.error = "interrupted", f"{signals.reason(exc)}, before the run started"
            record.finished_at, record.run_dir = results.utc_now(), str(self.run_dir)
            results.write(self.run_dir, self.record)
            raise Interrupted(f"{record.error}; its record is in {self.run_dir}", signals.exit_code()) \
                from None

    def _prepare(self, cfg: RunConfig, annotate: dict) -> None:
        """Everything before the run directory exists: model, backend, data (preprocessed), then the record."""
        self.backend = self.run_dir = None
        self.malloc = malloc.apply(cfg.malloc)  # before the backend loads and any worker thread allocates
        self.scenario = scenarios.get(cfg.scenario)
        self.model = models.resolve(cfg.model, cfg.weights, cfg.onnx, cfg.seed, cfg.preprocessing)
        self.model = onnx_input.apply(self.model, cfg)  # an --onnx file's declared input and classes, or refused
        self.options = backends.BackendOptions(cfg.precision, cfg.device, self.scenario.backend_batch(cfg),
                                               cfg.threads, self.scenario.intent, cfg.extra)
        self.backend = backends.create(cfg.backend, self.options)  # refuses what it cannot honour, before any run
        support = self.backend.supports(cfg.device)
        if cfg.onnx is not None and (support is None or "onnx" not in support.inputs):
            raise UsageError(f"--onnx: backend {cfg.backend} runs bench models, not ONNX files; use --backend "
                             f"{' or '.join(declared.taking('onnx'))}, or pass --weights")
        self.dataset = open_dataset(cfg, self.model)
        onnx_input.check_labels(self.model, self.dataset, cfg)  # accuracy needs a class for every label
        if cfg.count is not None and cfg.count > len(self.dataset):
            raise UsageError(f"--count {cfg.count} is larger than the dataset ({len(self.dataset)} samples)")
        self.run_id, self.run_dir = results.create_run_dir(cfg.output, cfg.backend, cfg.scenario)
        self.record = record = results.new_record(self.run_id, cfg.to_record())
        for key, value in annotate.items():  # e.g. `repeat` of a --repeat series (bench/stats/repeats.py)
            record[key] = value  # in every write; an undeclared key is refused (bench/record/schema.py)
        assert record.process is not None and record.timing is not None  # new_record made both
        record.process.malloc = codec.parse(schema.Malloc, self.malloc, "process.malloc")
        record.scenario = schema.Scenario(self.scenario.name, self.scenario.loadgen_name, self.options.batch_size,
                                          self.scenario.intent, self.scenario.pads(cfg))
        # the file's name, sha256, declared shapes beside what the spec describes
        record.model = {**self.model.describe(), **onnx_input.identity(self.model)}
        record.dataset = self.dataset.describe()
        record.system = codec.parse(schema.System, sysinfo.collect(cfg.system_name, declared.packages()), "system")
        record.timed_region = TIMED_REGION
        # user.conf copy, val_map sha256
        record.snapshot = codec.parse(schema.Snapshot, snapshot.take(cfg, self.run_dir, self.dataset), "snapshot")
        results.write(self.run_dir, record)

    def open(self) -> None:
        """Load the model (untimed) and warm up on real samples (untimed)."""
        cfg, console, record = self.cfg, self.console, self.record
        timing = record.timing
        assert timing is not None  # new_record made it
        console.print(f"[bold]run[/] {self.run_id} -> {escape(str(self.run_dir))}")  # a path is text, not markup
        if self.model.synthetic or self.dataset.synthetic:
            console.print("[yellow]synthetic " + " and ".join(
                [w for w, s in (("weights", self.model.synthetic), ("images", self.dataset.synthetic)) if s]) +
                ": performance only, accuracy means nothing[/]")
        t0 = time.perf_counter()
        console.print(f"loading {self.model.name} into {cfg.backend} ({cfg.device}, {cfg.precision})")
        with console.status("loading"):
            self.backend.load(self.model, self.options)
        timing.load_s = time.perf_counter() - t0
        record.backend = typing.cast(schema.Backend, backends.describe(self.backend))
        timing.compile_s = compile_seconds(record.backend)
        # The form the backend takes (sim: uint8 NHWC); refused here, before any timing, if the dataset cannot give it.
        self.store = SampleStore(self.dataset, form=getattr(self.backend, "sample_form", FLOAT32_NCHW))
        console.print("warming up (untimed)")
        with console.status("warming up"):
            self.estimate, timing.warmup_s, batches, timing.first_call_s = warm_up(self.backend, self.store, cfg,
                                                                                  self.scenario)
        timing.warmup_estimate = vars(self.estimate)
        timing.warmup_batch_sizes = batches
        # again: some backends settle threads/streams in warm-up
        record.backend = typing.cast(schema.Backend, backends.describe(self.backend))
        self.responder = Responder(self.backend, self.store)

    def loadgen(self, mode: str, root: Path | None = None, cfg: RunConfig | None = None,
                overrides: dict | None = None, power: PowerMonitor | None = None,
                audit_config: Path | None = None) -> schema.Performance | None:
        """One LoadGen run on this session; logs under <root>/loadgen/<mode>/ (root: the run directory)."""
        return run_loadgen(cfg or self.cfg, self.scenario, self.responder, self.store, self.estimate,
                           root or self.run_dir, mode, self.console, power, overrides, audit_config)

    def measure(self) -> schema.Record:
        """The recorded runs `cfg.mode` asks for: performance (with power), accuracy, or both."""
        cfg, record = self.cfg, self.record
        record.config = codec.parse(schema.Config, cfg.to_record(), "config")
        if cfg.mode in ("performance", "both"):
            power = PowerMonitor(self.run_dir, cfg.device)
            self.backend.reset_stats()  # multi-GPU: count only the timed run per device
            record.performance = perf = self.loadgen("performance", power=power)
            assert perf is not None  # a performance run always reads its detail log (or raised)
            if (per_device := self.backend.device_stats()) is not None:
                perf.per_device = per_device
            if (split := self.backend.server_time()) is not None:
                perf.server_time = split
            record.power = power.summary(perf.samples, perf.duration_s, perf.per_device)
        if cfg.mode in ("accuracy", "both"):
            self.loadgen("accuracy")
            record.accuracy = accuracy.evaluate(
                layout.accuracy_log(self.run_dir), self.dataset.labels(),
                self.model.reference_top1, cfg.accuracy_threshold, self.model.synthetic or self.dataset.synthetic)
        if record.power is None:
            record.power = PowerMonitor(self.run_dir, cfg.device).summary(None, None)
        return record


@contextmanager
def session(cfg: RunConfig, console: Console | None = None, annotate: dict | None = None) -> Iterator[Session]:
    """Open a session; on leaving, the record says how it ended (complete, failed, interrupted) and is written."""
    s = Session(cfg, console or Console(stderr=True), annotate)
    record, run_dir = s.record, s.run_dir
    try:
        s.open()
        yield s
        record.status = "complete"
    except (KeyboardInterrupt, Interrupted) as exc:
        record.status = "interrupted"
        signals.note_interrupt(exc)  # SIGTERM and SIGHUP end a run as Ctrl-C does (bench/system/signals.py)
        record.error = "; ".join(filter(None, (signals.reason(exc), getattr(exc, "loadgen_left", None))))
        raise Interrupted(f"{record.error}; what was measured so far is in {run_dir}", signals.exit_code())
    except BenchError as exc:
        record.status = "failed"
        record.error = str(exc)
        raise
    except Exception as exc:
        record.status = "failed"
        record.error = f"{type(exc).__name__}: {exc}"
        raise RunFailed(f"run failed: {type(exc).__name__}: {exc} (record in {run_dir})") from exc
    finally:
        record.finished_at = results.utc_now()
        record.run_dir = str(run_dir)
        try:
            results.write(run_dir, record)  # disk full: RunFailed naming the file; never half a file
        finally:
            s.backend.close()


def run(cfg: RunConfig, console: Console | None = None, annotate: dict | None = None) -> dict:
    """Run one benchmark; returns its record as result.json holds it (written to <output>/<run-id>/result.json).
    `annotate`: top-level fields added to the record from its first write (a repeat series' `repeat` block)."""
    with session(cfg, console, annotate) as s:
        record = s.measure()
    return codec.as_json(record)


def interrupted_exit() -> None:
    """Leave now, even if LoadGen's thread is still winding down (the record is already written)."""
    signals.leave()  # 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP
