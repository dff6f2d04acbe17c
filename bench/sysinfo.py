"""What a result records about the machine. Nothing here may fail a run: every probe degrades to None."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys

PACKAGES = ("bench", "mlcommons-loadgen", "numpy", "torch", "onnxruntime", "onnxruntime-gpu", "onnx", "openvino",
            "nncf", "tensorrt", "nvidia-ml-py", "Pillow", "pandas")


def _cpu_model() -> str | None:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def cpu_flags() -> list[str]:
    interesting = {"avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_int8", "amx_tile", "fma"}
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                return sorted(interesting & set(line.split(":", 1)[1].split()))
    except OSError:
        pass
    return []


def _memory_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def packages() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def collect(system_name: str | None = None) -> dict:
    return {
        "system_name": system_name or platform.node(),
        "cpu": _cpu_model(),
        "cpu_flags": cpu_flags(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gb": _memory_gb(),
        "gpus": [],
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "packages": packages(),
    }
