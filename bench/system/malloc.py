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
import os
import platform
import re

from bench.errors import RunFailed

# mallopt(3) parameters, from glibc's malloc.h.
M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -1, -4, -8
KEEP = {"M_ARENA_MAX": (M_ARENA_MAX, 1), "M_MMAP_MAX": (M_MMAP_MAX, 0),
        "M_TRIM_THRESHOLD": (M_TRIM_THRESHOLD, 2**31 - 1)}
KEEP_VALUES = {name: value for name, (_, value) in KEEP.items()}
_in_force: dict = {}  # mallopt settings applied in this process
# What glibc reads at start-up instead of a mallopt call: the environment aliases and GLIBC_TUNABLES'
# glibc.malloc.* entries, each to the mallopt parameter it sets. Where both set one, GLIBC_TUNABLES wins
# (measured on glibc 2.36 with M_PERTURB's fill byte, in either order of the two variables).
ALIASES = {"MALLOC_ARENA_MAX": "M_ARENA_MAX", "MALLOC_ARENA_TEST": "M_ARENA_TEST", "MALLOC_MMAP_MAX_": "M_MMAP_MAX",
           "MALLOC_MMAP_THRESHOLD_": "M_MMAP_THRESHOLD", "MALLOC_TRIM_THRESHOLD_": "M_TRIM_THRESHOLD",
           "MALLOC_TOP_PAD_": "M_TOP_PAD", "MALLOC_PERTURB_": "M_PERTURB", "MALLOC_CHECK_": "M_CHECK_ACTION"}
TUNABLES = {"arena_max": "M_ARENA_MAX", "arena_test": "M_ARENA_TEST", "mmap_max": "M_MMAP_MAX",
            "mmap_threshold": "M_MMAP_THRESHOLD", "trim_threshold": "M_TRIM_THRESHOLD", "top_pad": "M_TOP_PAD",
            "perturb": "M_PERTURB", "check": "M_CHECK_ACTION", "mxfast": "M_MXFAST"}
# Allocators that replace glibc's malloc when preloaded: glibc's mallopt then tunes an allocator nobody uses.
REPLACEMENTS = re.compile(r"lib(jemalloc|tcmalloc\w*|mimalloc|hoard|snmalloc\w*)[^/\s]*\.so[^/\s]*$")


def startup_environment() -> dict[str, str]:
    """The environment this process started with, which is what glibc read (os.environ may have changed since).

    glibc parses GLIBC_TUNABLES in place, writing a NUL over each ':' of the original: its later entries read as
    items of their own here, and are joined back (a variable's name never starts with 'glibc.').
    """
    try:
        with open("/proc/self/environ", "rb") as f:
            raw = f.read(1 << 20)
    except OSError:
        return dict(os.environ)
    found: dict[str, str] = {}
    last = ""
    for item in raw.decode(errors="replace").split("\0"):
        if last == "GLIBC_TUNABLES" and item.startswith("glibc."):
            found[last] += ":" + item
            continue
        if "=" in item:
            last, value = item.split("=", 1)
            found[last] = value
    return found


def _value(text: str):
    return int(text) if re.fullmatch(r"-?\d+", text.strip()) else text


def from_environment(environ: dict[str, str]) -> tuple[dict, dict]:
    """(mallopt parameter -> value the environment sets, the malloc variables themselves) for `environ`."""
    raw = {k: v for k, v in environ.items() if k in ALIASES or k == "GLIBC_TUNABLES"
           or (k.startswith("MALLOC_") and k != "MALLOC_CONF")}  # MALLOC_CONF is jemalloc's, not glibc's
    settings = {ALIASES[k]: _value(v) for k, v in raw.items() if k in ALIASES}
    for entry in raw.get("GLIBC_TUNABLES", "").split(":"):
        name, _, value = entry.partition("=")
        if name.startswith("glibc.malloc.") and value:
            short = name.removeprefix("glibc.malloc.")
            settings[TUNABLES.get(short, name)] = _value(value)
    return settings, raw


def preloaded_allocator() -> str | None:
    """The file of a malloc replacing glibc's in this process (jemalloc, tcmalloc, ...), from its memory map."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                if REPLACEMENTS.search(path):
                    return path
    except OSError:
        pass
    return None


def _glibc():
    """glibc's handle, or None on another C library (musl, macOS), where mallopt's parameters differ."""
    name, version = platform.libc_ver()
    if name != "glibc":
        return None, None
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), version


def apply(mode: str) -> dict:
    """Set the process's malloc as `mode` asks; returns what the record says ran. `in_force` lists the settings
    this process runs with, read from the process: what its environment set at start (MALLOC_*, GLIBC_TUNABLES),
    then bench's mallopt calls over them; a `system` run in a process that kept memory before cannot undo it."""
    libc, version = _glibc()
    note = {}
    environ, variables = from_environment(startup_environment()) if libc else ({}, {})
    other = preloaded_allocator()
    if other:
        note = {"note": f"malloc is {other} (preloaded), not glibc's: --malloc keep and glibc's settings do not "
                        "apply to it", "allocator": other}
        environ = {}
    elif mode == "keep" and libc is None:
        note = {"note": f"not applied: the C library is {platform.libc_ver()[0] or 'unknown'}, not glibc"}
    elif mode == "keep":
        for name, (param, value) in KEEP.items():
            if name not in _in_force:
                if libc.mallopt(param, value) != 1:  # mallopt returns 1 on success
                    raise RunFailed(f"glibc {version} refused mallopt({name}, {value}): run with --malloc system "
                                    "to leave its allocator as it is")
                _in_force[name] = value
    in_force = {} if other else {**environ, **_in_force}
    return {"mode": mode, "in_force": in_force, "environment": variables,
            "libc": f"glibc {version}" if libc else None, **note}
