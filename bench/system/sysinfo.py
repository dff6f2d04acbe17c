"""What a result records about the machine. Nothing here may fail a run: every probe degrades to None."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from pathlib import Path

# The harness's own packages; each backend adds its own (`Backend.packages`, passed in by the harness).
PACKAGES = ("bench", "mlcommons-loadgen", "numpy", "onnx", "nvidia-ml-py", "Pillow", "pandas", "plotly", "safetensors")


def _cpu_model() -> str | None:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


# Test-only: a space-separated list of the CPU flags the harness may see, e.g. "avx2 fma", so one machine can
# exercise the refusals and skips of a CPU without bf16/AMX. It only hides flags (a flag the CPU lacks stays
# unseen): oneDNN and the runtimes still use the real ISA; only the harness's own decisions follow it.
CPU_FLAGS_ENV = "BENCH_CPU_FLAGS"
# The flags a record keeps: those that decide which precisions run natively and how fast.
RECORDED_FLAGS = {"avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_int8", "amx_tile",
                  "fma"}


def real_cpu_flags() -> set[str]:
    """Every flag the kernel lists for the CPU (empty where /proc/cpuinfo does not exist)."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_flags_override() -> str | None:
    """The test-only override's value when set (an empty value hides every flag), else None."""
    return os.environ.get(CPU_FLAGS_ENV)


def read_cpu_flags() -> set[str]:
    """The CPU flags every harness decision reads: the real ones, less those the test-only override hides."""
    flags, override = real_cpu_flags(), cpu_flags_override()
    return flags if override is None else flags & set(override.split())


def cpu_flags_source() -> str:
    """Where read_cpu_flags() got its flags, for messages that name a missing flag."""
    return "/proc/cpuinfo's flags" if cpu_flags_override() is None else \
        f"the flags {CPU_FLAGS_ENV}={cpu_flags_override()!r} leaves visible (a test-only override)"


def cpu_flags() -> list[str]:
    return sorted(RECORDED_FLAGS & read_cpu_flags())


def _flags_override_record() -> dict | None:
    """Filled only under the test-only override, so a record never hides that its flags were not the CPU's."""
    override = cpu_flags_override()
    if override is None:
        return None
    return {"env": CPU_FLAGS_ENV, "value": override, "real_cpu_flags": sorted(RECORDED_FLAGS & real_cpu_flags())}


def _cpuinfo_topology() -> dict:
    """Physical cores, sockets and threads per core from /proc/cpuinfo (what lscpu reads); {} elsewhere."""
    cores, sockets = set(), set()
    physical = core = None
    for line in open("/proc/cpuinfo"):
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            physical = value.strip()
            sockets.add(physical)
        elif key == "core id":
            core = value.strip()
        elif not key and core is not None:
            cores.add((physical, core))
            physical = core = None
    if core is not None:
        cores.add((physical, core))
    logical = os.cpu_count() or 0
    if not cores:
        return {}
    return {"physical_cores": len(cores), "sockets": len(sockets) or 1,
            "threads_per_core": logical // len(cores) if logical else None}


def _frequency_mhz() -> dict:
    """Current (first CPU, /proc/cpuinfo) and maximum (cpufreq, absent in many VMs) clock in MHz."""
    found: dict = {"cpu_mhz": None, "cpu_max_mhz": None}
    for line in open("/proc/cpuinfo"):
        if line.startswith("cpu MHz"):
            found["cpu_mhz"] = round(float(line.split(":", 1)[1]), 1)
            break
    max_khz = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    if max_khz.is_file():
        found["cpu_max_mhz"] = round(int(max_khz.read_text()) / 1000, 1)
    return found


def _os_name() -> str:
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME") or platform.system()
    except OSError:
        return f"{platform.system()} {platform.release()}"


def gpus() -> list[dict]:
    """Every NVIDIA GPU through NVML (nvidia-ml-py): name, memory, driver, CUDA. [] without NVML or a GPU."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:  # NVMLError_LibraryNotFound and friends: no NVIDIA driver here
        return []
    try:
        text = lambda v: v.decode() if isinstance(v, bytes) else str(v)  # noqa: E731 - older bindings return bytes
        driver = text(pynvml.nvmlSystemGetDriverVersion())
        cuda = pynvml.nvmlSystemGetCudaDriverVersion()
        cuda = f"{cuda // 1000}.{cuda % 1000 // 10}"
        found = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            found.append({
                "index": i,
                "name": text(pynvml.nvmlDeviceGetName(handle)),
                "memory_gb": round(pynvml.nvmlDeviceGetMemoryInfo(handle).total / 2**30, 1),
                "driver": driver,
                "cuda": cuda,
                "uuid": _quiet(lambda h=handle: text(pynvml.nvmlDeviceGetUUID(h))),
                "power_limit_w": _quiet(lambda h=handle: pynvml.nvmlDeviceGetEnforcedPowerLimit(h) / 1000),
            })
        return found
    finally:
        _quiet(pynvml.nvmlShutdown)


def _quiet(probe, default=None):
    """A probe's value, or `default` if it raises anything: system information never fails a run."""
    try:
        return probe()
    except Exception:  # noqa: BLE001 - any probe may fail on an odd machine; the record says None
        return default


def _memory_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def packages(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Installed versions of PACKAGES and `extra` (the backends' declared packages)."""
    found = {}
    for name in dict.fromkeys(PACKAGES + tuple(extra)):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def collect(system_name: str | None = None, backend_packages: tuple[str, ...] = ()) -> dict:
    """What a result records about this machine; any probe that fails gives None (or [] / {}).

    `backend_packages`: the distributions the backends declare (backends/declared.py), listed with the harness's."""
    topology = _quiet(_cpuinfo_topology, {})
    frequency = _quiet(_frequency_mhz, {"cpu_mhz": None, "cpu_max_mhz": None})
    return {
        "system_name": system_name or _quiet(platform.node) or "unknown",
        "cpu": _quiet(_cpu_model),
        "cpu_flags": _quiet(cpu_flags, []),
        "cpu_flags_override": _quiet(_flags_override_record),  # null unless the test-only override is set
        "cores": _quiet(os.cpu_count),  # logical CPUs (hardware threads)
        "physical_cores": topology.get("physical_cores"),
        "threads_per_core": topology.get("threads_per_core"),
        "sockets": topology.get("sockets"),
        "usable_cores": _quiet(lambda: len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                               else os.cpu_count()),
        "cpu_mhz": frequency.get("cpu_mhz"),
        "cpu_max_mhz": frequency.get("cpu_max_mhz"),
        "memory_gb": _quiet(_memory_gb),
        "gpus": _quiet(gpus, []),
        "os": _quiet(lambda: f"{platform.system()} {platform.release()}"),
        "os_name": _quiet(_os_name),
        "kernel": _quiet(lambda: f"{platform.release()} {platform.version()}"),
        "machine": _quiet(platform.machine),
        "python": sys.version.split()[0],
        "packages": _quiet(lambda: packages(backend_packages), {}),
    }
