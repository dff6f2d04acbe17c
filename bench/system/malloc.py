"""`--malloc keep`: glibc's malloc keeps freed memory for the next batch instead of handing it back to the OS.

A CPU framework that does not pool its own memory (torch eager, and inductor's generated code) allocates every
activation afresh. With glibc's defaults a block above the mmap threshold (at most 32 MiB) is mmap'ed and unmapped
each time, the heap top is trimmed once more than twice that is free, and a thread other than the main one
allocates from an arena of 64 MiB heaps that are unmapped as they empty: each batch then page-faults its
activations in again, and the kernel zeroes every page. benchmarks/malloc_openmp.py on a 2-core AMD EPYC:
EfficientNet-Lite0 at batch 8 on a worker thread took 53,000 minor faults per batch and spent 40% of its CPU time
in the kernel; kept, no faults and 1.61x the rate (ResNet-50: 18,000 faults per batch, 1.05x).

keep: every thread allocates from the main heap (M_ARENA_MAX 1), nothing is mmap'ed (M_MMAP_MAX 0), and the heap
is not trimmed below 2 GiB free (M_TRIM_THRESHOLD). The process holds its peak memory until it exits, which is
what a serving process wants. onnxruntime and OpenVINO pool their tensors themselves: `benchmarks/peers.py
--system-malloc` shows what it is worth to each.
The settings apply to the whole process, from the call on; threads that have allocated before keep their arena,
so the call comes before the backend loads and any worker starts.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

from bench.errors import RunFailed

# mallopt(3) parameters, from glibc's malloc.h.
M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -1, -4, -8
KEEP = {"M_ARENA_MAX": (M_ARENA_MAX, 1), "M_MMAP_MAX": (M_MMAP_MAX, 0),
        "M_TRIM_THRESHOLD": (M_TRIM_THRESHOLD, 2**31 - 1)}
_in_force: dict = {}  # mallopt settings applied in this process


def _glibc():
    """glibc's handle, or None on another C library (musl, macOS), where mallopt's parameters differ."""
    name, version = platform.libc_ver()
    if name != "glibc":
        return None, None
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), version


def apply(mode: str) -> dict:
    """Set the process's malloc as `mode` asks; returns what the record says ran. `in_force` lists the settings
    this process runs with: a `system` run in a process that kept memory before cannot undo it, and says so."""
    libc, version = _glibc()
    note = {}
    if mode == "keep" and libc is None:
        note = {"note": f"not applied: the C library is {platform.libc_ver()[0] or 'unknown'}, not glibc"}
    elif mode == "keep":
        for name, (param, value) in KEEP.items():
            if name not in _in_force:
                if libc.mallopt(param, value) != 1:  # mallopt returns 1 on success
                    raise RunFailed(f"glibc {version} refused mallopt({name}, {value}): run with --malloc system "
                                    "to leave its allocator as it is")
                _in_force[name] = value
    return {"mode": mode, "in_force": dict(_in_force), "libc": f"glibc {version}" if libc else None, **note}
