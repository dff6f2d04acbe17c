"""Power and energy over LoadGen's run: NVML for the GPUs a run uses, RAPL (powercap) for CPUs.

A sampler thread reads every channel at 20 Hz; each row carries a wall-clock time, and the summary is sliced
to LoadGen's power_begin/power_end. Energy comes from a channel's energy counter where it has one (NVML's
total-energy counter, RAPL's energy_uj, with wrap-around), else from integrating the sampled watts. Power
never fails a run: what cannot be read gives `available: false` and the reason. Channels are injectable, so
the arithmetic is tested on recorded readings. power.csv's writer and reader (`read_csv`) live here together.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from bench.cache import atomic_write
from bench.record import codec, loadgen_log, schema
from bench.run.power_readers import (
    PEAK_INSTANT,
    POWERCAP_ROOT,
    Channel,
    Reading,
    counter_delta,
    integrate,
    nvml_channels,
    rapl_channels,
    throttle_reasons,
)
from bench.system import run_dir as layout

INTERVAL_S = 0.05  # 20 Hz: NVML refreshes board power about every 20-100 ms; RAPL every ~1 ms
CSV_NAME = "power.csv"
CSV_HEADER = "t_s,wall_s,channel,kind,watts,instant_watts,counter_j"
LABELS = {"gpu": "GPU board power (NVML)", "cpu": "CPU package power (RAPL)"}
__all__ = ["Channel", "Reading", "PowerMonitor", "counter_delta", "integrate", "nvml_channels", "rapl_channels",
           "throttle_reasons", "power_window", "read_csv"]


# ---- arithmetic (pure, tested with made-up readings) ---------------------------------------------------------


def channel_figures(times: list[float], readings: list[Reading], wrap: float | None) -> dict:
    """Energy, interval watts and peak of one channel's readings (times in seconds, ascending)."""
    counters = [r.counter_j for r in readings]
    interval_watts: list[float] = []
    if len(readings) >= 2 and all(c is not None for c in counters):
        deltas = [counter_delta(a, b, wrap) for a, b in zip(counters, counters[1:])]
        energy, method = sum(deltas), "counter"
        interval_watts = [d / (t1 - t0) for d, t0, t1 in zip(deltas, times, times[1:]) if t1 > t0]
    else:
        energy, method = None, None
    sampled = [(t, r.watts) for t, r in zip(times, readings) if r.watts is not None]
    if energy is None and len(sampled) >= 2:
        energy, method = integrate([t for t, _ in sampled], [w for _, w in sampled]), "samples"
    # Peak: NVML's instantaneous field where the driver has it, else its (1 s average) watts, else RAPL's
    # counter intervals.
    instant = [r.instant_watts for r in readings if r.instant_watts is not None]
    series = (instant if instant and len(instant) == len(readings) else
              [w for _, w in sampled] if len(sampled) == len(readings) else interval_watts)
    return {"energy_j": energy, "method": method, "max_watts": max(series) if series else None, "series": series}


def figures(energy_j: float, window_s: float, samples: int | None, duration_s: float | None) -> dict:
    """The per-run figures: average watts over the sampled window; per-sample figures over LoadGen's run."""
    avg = energy_j / window_s if window_s > 0 else None
    sps = samples / duration_s if samples and duration_s else None
    return {
        "avg_watts": avg,
        "energy_j": energy_j,
        "joules_per_sample": avg / sps if avg is not None and sps else None,
        "samples_per_second_per_watt": sps / avg if avg and sps else None,
    }


# ---- LoadGen's power window and the CSV ------------------------------------------------------------------


def power_window(detail: Path) -> tuple[float, float] | None:
    """The window MLPerf's power tools slice to, from a run's mlperf_log_detail.txt (None where absent)."""
    try:
        return loadgen_log.power_window(loadgen_log.read_detail(detail))
    except OSError:
        return None


def read_csv(path: Path) -> pd.DataFrame | None:
    """power.csv as the sampler writes it, tidy: one row per reading, `channel` names the series, `watts` filled
    from the energy counter's intervals where a channel has no watts (RAPL). None when absent or unreadable."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError):
        return None
    if not set(CSV_HEADER.split(",")) <= set(frame.columns) or frame.empty:
        return None
    parts = []
    for _, rows in frame.groupby("channel", sort=False):
        rows = rows.sort_values("t_s").copy()
        if rows["watts"].isna().all():
            rows["watts"] = rows["counter_j"].diff() / rows["t_s"].diff()  # wrap-arounds give a negative: dropped
            rows = rows[rows["watts"] >= 0]
        parts.append(rows)
    return pd.concat(parts, ignore_index=True)[["t_s", "wall_s", "channel", "kind", "watts"]]


# ---- the monitor -------------------------------------------------------------------------------------------


class PowerMonitor:
    """Sampled around the timed region, summarised over LoadGen's power window; `summary()` is the record's section.

    On a GPU run the GPUs' board power is the headline and the CPU's RAPL, where readable, stands beside it
    (never added in). Each row carries a wall-clock time, so the summary is sliced to LoadGen's
    `power_begin`/`power_end`: sample loading and teardown, inside the sampler's own window, do not dilute it.
    """

    def __init__(self, run_dir: Path, device: str, *, channels: list[Channel] | None = None,
                 powercap_root: Path = POWERCAP_ROOT, interval_s: float = INTERVAL_S,
                 clock: Callable[[], float] = time.perf_counter, wall: Callable[[], float] = time.time):
        self.run_dir, self.device, self.interval_s = Path(run_dir), device, interval_s
        self.clock, self.wall = clock, wall
        self.reason, self.cpu_reason = "", ""
        self.rows: list[tuple[float, float, int, Reading]] = []  # (since start, wall clock, channel, reading)
        self.state_start: list[dict] = []
        self.state_end: list[dict] = []
        self.stopped = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if channels is not None:
            self.channels, self.source = channels, "injected"
        else:
            try:
                self.channels, self.source, self.reason = self._discover(powercap_root)
            except Exception as exc:  # never fail a run over power
                self.channels, self.source, self.reason = [], None, f"power discovery failed: {exc}"

    def _discover(self, powercap_root: Path) -> tuple[list[Channel], str | None, str]:
        from bench.system.devices import nvml_gpu_count, parse_cuda

        cuda = parse_cuda(self.device)
        rapl, self.cpu_reason = rapl_channels(powercap_root)
        if cuda is not None:  # a GPU run: the GPUs' board power, the CPU's package power beside it
            # cuda:all is every GPU CUDA shows (CUDA_VISIBLE_DEVICES honoured), not every GPU NVML knows.
            channels, reason = nvml_channels(cuda.resolve(nvml_gpu_count()) if cuda.every else list(cuda.indices))
            return (channels + rapl, "nvml", "") if channels else ([], None, reason)
        if self.device == "cpu":
            return rapl, "rapl" if rapl else None, self.cpu_reason
        return [], None, f"no power reader for device {self.device}"

    def start(self) -> None:
        if not self.channels:
            return
        try:
            self.state_start = [c.state() for c in self.channels]
            self._t0 = self.clock()
            self._sample()  # the first reading at the window's start
            self._thread = threading.Thread(target=self._loop, name="power-sampler", daemon=True)
            self._thread.start()
        except Exception as exc:
            self._fail(exc)

    def _sample(self) -> None:
        for i, channel in enumerate(self.channels):
            reading = channel.read()
            self.rows.append((self.clock() - self._t0, self.wall(), i, reading))

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.interval_s):
                self._sample()
        except Exception as exc:  # a reader that breaks mid-run ends power, never the run
            self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        self.reason = f"power reading failed: {type(exc).__name__}: {exc}"
        self.channels = []

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        if not self.channels:
            return
        try:
            self._sample()  # the last reading at the window's end
            self.stopped = True
            self.state_end = [c.state() for c in self.channels]
            self.write_csv()
        except Exception as exc:
            self._fail(exc)

    def write_csv(self) -> Path:
        """Long form, one row per reading: read back by `read_csv` (the report's power chart)."""
        path = self.run_dir / CSV_NAME
        buf = io.StringIO()
        buf.write(CSV_HEADER + "\n")

        def num(value: float | None, digits: int) -> str:
            return "" if value is None else f"{value:.{digits}f}"

        for t, wall, i, r in self.rows:
            c = self.channels[i]
            buf.write(f"{t:.4f},{wall:.4f},{c.name},{c.kind},{num(r.watts, 3)},{num(r.instant_watts, 3)},"
                      f"{num(r.counter_j, 6)}\n")
        atomic_write(path, buf.getvalue())
        return path

    def summary(self, samples: int | None, duration_s: float | None, per_device: list[dict] | None = None,
                window: tuple[float, float] | None = None) -> schema.Power:
        """The record's power section, over LoadGen's window (`window`, else read from the run's detail log);
        `per_device` (multi-GPU runs) adds each GPU's samples/s per watt."""
        try:
            if window is None:
                window = power_window(layout.detail_log(self.run_dir))
            out = self._summary(samples, duration_s, window)
            if isinstance(out, schema.Power):
                return out
            if per_device:
                rates = {d["device"]: d.get("samples_per_second") for d in per_device}
                for channel in out["channels"]:
                    rate, watts = rates.get(channel.get("cuda_device")), channel.get("avg_watts")
                    channel["samples_per_second_per_watt"] = rate / watts if rate and watts else None
            # The measured section: its declared figures typed, the sampler's details (channels, window) kept as
            # it ordered them.
            return codec.parse(schema.Power, out, "power")
        except Exception as exc:
            return self._unavailable(f"power summary failed: {type(exc).__name__}: {exc}")

    def _unavailable(self, reason: str) -> schema.Power:
        return schema.Power(available=False, reason=reason, source=self.source)

    def _channel(self, i: int, rows: list[tuple[float, Reading]]) -> dict:
        channel = self.channels[i]
        fig = channel_figures([t for t, _ in rows], [r for _, r in rows], channel.wrap_j)
        if fig["energy_j"] is None:
            raise ValueError(f"{channel.name}: too few readings in the window to measure energy")
        span = rows[-1][0] - rows[0][0]
        entry = {"channel": channel.name, "kind": channel.kind, "label": LABELS.get(channel.kind, channel.kind),
                 **channel.info, "method": fig["method"], "energy_j": fig["energy_j"],
                 "avg_watts": fig["energy_j"] / span if span > 0 else None, "max_watts": fig["max_watts"],
                 "readings": len(rows), "series": fig["series"]}
        if channel.kind == "gpu":
            entry["state_start"] = self.state_start[i] if i < len(self.state_start) else {}
            entry["state_end"] = self.state_end[i] if i < len(self.state_end) else {}
        return entry

    def _summary(self, samples: int | None, duration_s: float | None,
                 window: tuple[float, float] | None) -> dict | schema.Power:
        if not self.channels:
            return self._unavailable(self.reason or "no power source is readable on this machine")
        if not self.stopped:
            return self._unavailable("power is sampled during the performance run only; none ran")
        # Slice to LoadGen's window (wall clock, ms resolution); without one, the sampler's own window, said so.
        inside = [row for row in self.rows if window is None or window[0] <= row[1] <= window[1]]
        try:
            entries = [self._channel(i, [(wall, r) for _, wall, k, r in inside if k == i])
                       for i in range(len(self.channels))]
        except ValueError as exc:
            return self._unavailable(str(exc))
        head_kind = "cpu" if self.source == "rapl" else "gpu"
        head = [e for e in entries if e["kind"] == head_kind or self.source == "injected"]
        # Peak of the sum: the channels are read together, tick by tick, so their series line up.
        series = [e.pop("series") for e in entries]
        head_series = [s for s, e in zip(series, entries) if e in head]
        length = min(len(x) for x in head_series)
        energy = sum(e["energy_j"] for e in head)
        span = max(wall for _, wall, _, _ in inside) - min(wall for _, wall, _, _ in inside)
        beside = [e for e in entries if e not in head]
        out = {
            "available": True,
            "reason": None,
            "source": self.source,
            "label": LABELS[head_kind] if self.source != "injected" else "injected channels",
            "scope": ("GPU board power of the GPUs used, from NVML (not wall power: MLPerf Power measures the "
                      "system at the wall with PTDaemon); the host CPU is not counted in it" if head_kind == "gpu"
                      else "CPU package energy through RAPL (DRAM, GPUs and the rest of the system not counted)"),
            **figures(energy, span, samples, duration_s),
            "max_watts": max((sum(x[k] for x in head_series) for k in range(length)), default=None),
            "max_watts_is": (head[0].get("peak", PEAK_INSTANT) if head_kind == "gpu" and head else
                             "highest counter interval (~50 ms)"),
            "window": ({"from": "LoadGen power_begin/power_end", "begin": window[0], "end": window[1]} if window else
                       {"from": "sampler start/stop (no LoadGen power_begin/power_end found)"}),
            "window_s": span,
            "interval_s": self.interval_s,
            "readings": len(inside) // len(self.channels),
            "channels": entries,
            "csv": CSV_NAME,
        }
        out["sample_rate_hz"] = (out["readings"] - 1) / span if span > 0 and out["readings"] > 1 else None
        if beside:  # the CPU's package power on a GPU run: its own figures, never added to the GPUs'
            cpu = sum(e["energy_j"] for e in beside)
            out["cpu_rapl"] = {"label": LABELS["cpu"], "energy_j": cpu, "avg_watts": cpu / span if span else None}
        elif head_kind == "gpu":
            out["cpu_rapl"] = {"label": LABELS["cpu"], "available": False, "reason": self.cpu_reason}
        return out
