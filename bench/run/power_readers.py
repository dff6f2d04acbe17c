"""Power readers: RAPL package energy (powercap) and NVML GPU board power, each as `Channel`s for bench/run/power.py.

NVML gives three things per GPU: nvmlDeviceGetPowerUsage (on Ampere and later a 1-second average), the
instantaneous field NVML_FI_DEV_POWER_INSTANT where the driver has it, and the total-energy counter (Volta on).
Energy comes from the counter; the peak from the instantaneous field, else it is labelled a 1 s average.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

POWERCAP_ROOT = Path("/sys/class/powercap")
NVML_FI_DEV_POWER_INSTANT = 186  # nvml.h; read by number so an older nvidia-ml-py still asks for it
PEAK_INSTANT = "instantaneous (NVML_FI_DEV_POWER_INSTANT)"
PEAK_AVERAGE = "highest 1 s average (nvmlDeviceGetPowerUsage; no instantaneous field on this driver)"


@dataclass(frozen=True)
class Reading:
    """One read of one channel: watts (NVML's 1 s average), instantaneous watts, and/or an energy counter (J)."""

    watts: float | None = None
    counter_j: float | None = None
    instant_watts: float | None = None


@dataclass
class Channel:
    """Something that can be read for power: one GPU through NVML, one RAPL package."""

    name: str
    kind: str  # "gpu" or "cpu"
    read: Callable[[], Reading]
    wrap_j: float | None = None  # the counter's range: it restarts from 0 after this many joules
    state: Callable[[], dict] = field(default=lambda: {})  # clocks, temperature, throttle reasons
    info: dict = field(default_factory=dict)


# ---- counter arithmetic ------------------------------------------------------------------------------------


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



# ---- readers -------------------------------------------------------------------------------------------------


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
    from bench.system.devices import nvml_handle

    channels = []
    for ordinal in cuda_ordinals:
        try:
            handle, matched_by = nvml_handle(pynvml, ordinal)
            name = pynvml.nvmlDeviceGetName(handle)
        except Exception as exc:
            return [], f"NVML has no GPU for cuda:{ordinal} ({exc})"
        try:
            pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
            has_counter = True
        except Exception:  # older than Volta: power samples only
            has_counter = False
        has_instant = instant_watts(pynvml, handle) is not None

        def read(h=handle, counter=has_counter, instant=has_instant) -> Reading:
            watts = pynvml.nvmlDeviceGetPowerUsage(h) / 1000.0
            energy = pynvml.nvmlDeviceGetTotalEnergyConsumption(h) / 1000.0 if counter else None
            return Reading(watts, energy, instant_watts(pynvml, h) if instant else None)

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
                                {"cuda_device": f"cuda:{ordinal}", "nvml_matched_by": matched_by, "name": name,
                                 "energy_counter": has_counter,
                                 "peak": PEAK_INSTANT if has_instant else PEAK_AVERAGE}))
    return channels, ""




def instant_watts(pynvml, handle) -> float | None:
    """NVML_FI_DEV_POWER_INSTANT in watts, or None where the driver or GPU lacks it."""
    try:
        value = pynvml.nvmlDeviceGetFieldValues(handle, [NVML_FI_DEV_POWER_INSTANT])[0]
        return value.value.uiVal / 1000.0 if value.nvmlReturn == 0 else None
    except Exception:
        return None
