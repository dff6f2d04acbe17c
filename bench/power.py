"""Power and energy during the timed region: NVML for the GPUs a run uses, RAPL (powercap) on CPUs.

A sampler thread reads every channel at >= 10 Hz between `start()` and `stop()`. Energy comes from a
channel's energy counter where it has one (NVML's total-energy counter, RAPL's energy_uj, with
wrap-around), else from integrating the sampled watts. Power never fails a run: whatever cannot be
read gives `available: false` and the reason. Readers are injectable (a powercap root; channels with
a read callable) so the arithmetic is tested without the hardware.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.cache import atomic_write

POWERCAP_ROOT = Path("/sys/class/powercap")
INTERVAL_S = 0.05  # 20 Hz: NVML refreshes board power about every 20-100 ms; RAPL every ~1 ms
CSV_NAME = "power.csv"


@dataclass(frozen=True)
class Reading:
    """One read of one channel: instantaneous watts and/or a cumulative energy counter in joules."""

    watts: float | None = None
    counter_j: float | None = None


@dataclass
class Channel:
    """Something that can be read for power: one GPU through NVML, one RAPL package."""

    name: str
    kind: str  # "gpu" or "cpu"
    read: Callable[[], Reading]
    wrap_j: float | None = None  # the counter's range: it restarts from 0 after this many joules
    state: Callable[[], dict] = field(default=lambda: {})  # clocks, temperature, throttle reasons
    info: dict = field(default_factory=dict)


# ---- arithmetic (pure, tested with made-up readings) ---------------------------------------------------------


def counter_delta(start: float, end: float, wrap: float | None) -> float:
    """Energy between two counter reads; a counter that went backwards wrapped once (or was reset)."""
    if end >= start:
        return end - start
    if wrap is None:  # a 64-bit counter does not wrap: it was reset (driver reload); count from zero
        return end
    return wrap - start + end


def integrate(times: list[float], watts: list[float]) -> float:
    """Energy (J) under sampled power by the trapezoidal rule."""
    return sum((t1 - t0) * (w0 + w1) / 2 for t0, t1, w0, w1 in zip(times, times[1:], watts, watts[1:]))


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
    # Peak: the sampled instantaneous watts where the channel gives them (NVML), else counter intervals (RAPL).
    series = [w for _, w in sampled] if len(sampled) == len(readings) else interval_watts
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


# ---- readers -----------------------------------------------------------------------------------------------


def rapl_channels(root: Path = POWERCAP_ROOT) -> tuple[list[Channel], str]:
    """RAPL package zones under a powercap root (intel-rapl:N; AMD's zones use the same driver and names).

    Only top-level package zones are summed: subzones (core, uncore, dram as intel-rapl:N:M) are parts of
    their package, and `psys` covers the packages too. Returns the channels and, when there are none, why.
    """
    root = Path(root)
    if not root.is_dir():
        return [], f"{root} does not exist (no RAPL here: a VM, a container without it, or a non-x86 CPU)"
    zones = sorted(p for p in root.glob("*-rapl:*") if p.name.count(":") == 1)
    if not zones:
        return [], f"{root} has no RAPL zones (no intel-rapl:N directories)"
    channels, problems = [], []
    for zone in zones:
        try:
            name = (zone / "name").read_text().strip()
            if not name.startswith("package"):
                continue
            wrap = int((zone / "max_energy_range_uj").read_text()) / 1e6
            (zone / "energy_uj").read_text()  # readable? (root-only on many kernels since CVE-2020-8694)
        except (OSError, ValueError) as exc:
            problems.append(f"{zone}: {getattr(exc, 'strerror', None) or exc}")
            continue
        path = zone / "energy_uj"
        channels.append(Channel(f"{name}", "cpu", lambda p=path: Reading(counter_j=int(p.read_text()) / 1e6),
                                wrap_j=wrap, info={"zone": str(zone)}))
    if not channels:
        why = "; ".join(problems) or "no package zone"
        return [], f"RAPL energy is not readable under {root} ({why}); reading it usually needs root"
    return channels, ""


THROTTLE_NAMES = {
    0x1: "gpu_idle", 0x2: "applications_clocks", 0x4: "sw_power_cap", 0x8: "hw_slowdown", 0x10: "sync_boost",
    0x20: "sw_thermal", 0x40: "hw_thermal", 0x80: "hw_power_brake", 0x100: "display_clocks",
}


def throttle_reasons(mask: int) -> list[str]:
    names = [name for bit, name in THROTTLE_NAMES.items() if mask & bit]
    rest = mask & ~sum(THROTTLE_NAMES)
    return names + ([f"0x{rest:x}"] if rest else [])


def nvml_channels(cuda_ordinals: list[int]) -> tuple[list[Channel], str]:
    """One channel per GPU the run uses, through nvidia-ml-py (module pynvml)."""
    try:
        import pynvml
    except ImportError:
        return [], "nvidia-ml-py is not installed: pip install 'bench[gpu]'"
    try:
        pynvml.nvmlInit()
    except Exception as exc:
        return [], f"NVML cannot start ({type(exc).__name__}: {exc}): no NVIDIA driver here"
    from bench.devices import nvml_index

    channels = []
    for ordinal in cuda_ordinals:
        target = nvml_index(ordinal)
        try:
            handle = (pynvml.nvmlDeviceGetHandleByIndex(target) if isinstance(target, int)
                      else pynvml.nvmlDeviceGetHandleByUUID(target))
            name = pynvml.nvmlDeviceGetName(handle)
        except Exception as exc:
            return [], f"NVML has no GPU for cuda:{ordinal} ({exc})"
        try:
            pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
            has_counter = True
        except Exception:  # older than Volta: power samples only
            has_counter = False

        def read(h=handle, counter=has_counter) -> Reading:
            watts = pynvml.nvmlDeviceGetPowerUsage(h) / 1000.0
            energy = pynvml.nvmlDeviceGetTotalEnergyConsumption(h) / 1000.0 if counter else None
            return Reading(watts, energy)

        def state(h=handle) -> dict:
            out = {}
            for key, call in (
                ("sm_clock_mhz", lambda: pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM)),
                ("mem_clock_mhz", lambda: pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_MEM)),
                ("temperature_c", lambda: pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU)),
                ("power_limit_w", lambda: pynvml.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0),
                ("throttle_reasons", lambda: throttle_reasons(pynvml.nvmlDeviceGetCurrentClocksEventReasons(h))),
            ):
                try:
                    out[key] = call()
                except Exception:
                    out[key] = None
            return out

        name = name.decode() if isinstance(name, bytes) else name
        channels.append(Channel(f"gpu{ordinal}", "gpu", read, None, state,
                                {"cuda_device": f"cuda:{ordinal}", "nvml_index": target, "name": name,
                                 "energy_counter": has_counter}))
    return channels, ""


# ---- the monitor -------------------------------------------------------------------------------------------


class PowerMonitor:
    """Sampled over the timed region; `summary()` gives the record's power section."""

    def __init__(self, run_dir: Path, device: str, *, channels: list[Channel] | None = None,
                 powercap_root: Path = POWERCAP_ROOT, interval_s: float = INTERVAL_S,
                 clock: Callable[[], float] = time.perf_counter):
        self.run_dir, self.device, self.interval_s, self.clock = Path(run_dir), device, interval_s, clock
        self.reason = ""
        self.rows: list[tuple[float, int, Reading]] = []  # (time since start, channel index, reading)
        self.state_start: list[dict] = []
        self.state_end: list[dict] = []
        self.window_s: float | None = None
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
        from bench.devices import parse_cuda

        cuda = parse_cuda(self.device)
        if cuda is not None:  # a GPU run: the GPUs' board power. The host CPU is not counted.
            try:
                import pynvml

                pynvml.nvmlInit()
                count = pynvml.nvmlDeviceGetCount()
            except Exception as exc:
                return [], None, f"NVML cannot start ({type(exc).__name__}: {exc}): no NVIDIA driver here"
            channels, reason = nvml_channels(cuda.resolve(count) if cuda.every else list(cuda.indices))
            return channels, "nvml" if channels else None, reason
        if self.device == "cpu":
            channels, reason = rapl_channels(powercap_root)
            return channels, "rapl" if channels else None, reason
        return [], None, f"no power reader for device {self.device}"

    @property
    def available(self) -> bool:
        return bool(self.channels)

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
            self.rows.append((self.clock() - self._t0, i, reading))

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
            self.window_s = self.rows[-1][0] - self.rows[0][0]  # first to last reading: what the energy spans
            self.state_end = [c.state() for c in self.channels]
            self.write_csv()
        except Exception as exc:
            self._fail(exc)

    def write_csv(self) -> Path:
        path = self.run_dir / CSV_NAME
        buf = io.StringIO()
        buf.write("t_s,channel,kind,watts,counter_j\n")
        for t, i, r in self.rows:
            c = self.channels[i]
            buf.write(f"{t:.4f},{c.name},{c.kind},{'' if r.watts is None else f'{r.watts:.3f}'},"
                      f"{'' if r.counter_j is None else f'{r.counter_j:.6f}'}\n")
        atomic_write(path, buf.getvalue())
        return path

    def summary(self, samples: int | None, duration_s: float | None, per_device: list[dict] | None = None) -> dict:
        """The record's power section; `per_device` (multi-GPU runs) adds each GPU's samples/s per watt."""
        try:
            out = self._summary(samples, duration_s)
            if out["available"] and per_device:
                rates = {d["device"]: d.get("samples_per_second") for d in per_device}
                for channel in out["channels"]:
                    rate, watts = rates.get(channel.get("cuda_device")), channel.get("avg_watts")
                    channel["samples_per_second_per_watt"] = rate / watts if rate and watts else None
            return out
        except Exception as exc:
            return self._unavailable(f"power summary failed: {type(exc).__name__}: {exc}")

    def _unavailable(self, reason: str) -> dict:
        return {"available": False, "reason": reason, "source": self.source, "avg_watts": None, "max_watts": None,
                "energy_j": None, "joules_per_sample": None, "samples_per_second_per_watt": None}

    def _summary(self, samples: int | None, duration_s: float | None) -> dict:
        if not self.channels:
            return self._unavailable(self.reason or "no power source is readable on this machine")
        if self.window_s is None:
            return self._unavailable("power is sampled during the performance run only; none ran")
        per_channel, series, total = [], [], 0.0
        for i, channel in enumerate(self.channels):
            rows = [(t, r) for t, k, r in self.rows if k == i]
            fig = channel_figures([t for t, _ in rows], [r for _, r in rows], channel.wrap_j)
            if fig["energy_j"] is None:
                return self._unavailable(f"{channel.name}: too few readings to measure energy")
            total += fig["energy_j"]
            entry = {"channel": channel.name, "kind": channel.kind, **channel.info, "method": fig["method"],
                     "energy_j": fig["energy_j"], "avg_watts": fig["energy_j"] / self.window_s,
                     "max_watts": fig["max_watts"], "readings": len(rows)}
            if channel.kind == "gpu":
                entry["state_start"] = self.state_start[i] if i < len(self.state_start) else {}
                entry["state_end"] = self.state_end[i] if i < len(self.state_end) else {}
            per_channel.append(entry)
            series.append(fig["series"])
        # Peak of the sum: the channels are read together, tick by tick, so their series line up.
        length = min(len(x) for x in series)
        peak = max((sum(x[k] for x in series) for k in range(length)), default=None)
        ticks = len(self.rows) // len(self.channels)
        return {
            "available": True,
            "reason": None,
            "source": self.source,
            "scope": ("GPU board power of the GPUs used (host CPU not counted)" if self.source == "nvml" else
                      "CPU package energy through RAPL (DRAM, GPUs and the rest of the system not counted)"
                      if self.source == "rapl" else self.source),
            **figures(total, self.window_s, samples, duration_s),
            "max_watts": peak,
            "window_s": self.window_s,
            "interval_s": self.interval_s,
            "readings": ticks,
            "sample_rate_hz": (ticks - 1) / self.window_s if self.window_s and ticks > 1 else None,
            "channels": per_channel,
            "csv": CSV_NAME,
        }
