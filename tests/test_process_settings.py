"""The process settings bench makes for a CPU run: `--malloc keep` (freed memory stays for the next batch) and the
main thread's OpenMP team released after torch loads. Each mechanism runs in a fresh Python process of its own, as
both act on the whole process; the records say what ran."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

from tests.conftest import only_run

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt settings are glibc's")

# A worker thread allocates, touches and frees 64 MiB twenty times, as a framework does a large activation per
# batch; the child prints the minor page faults of the last ten rounds.
FAULTS = """
import resource, sys, threading
import numpy as np
from bench.system import malloc
malloc.apply(sys.argv[1])
out = []
def work():
    for i in range(20):
        if i == 10:
            out.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt)
        a = np.ones(8 << 20)  # 64 MiB, every page written
        del a
    out.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - out[0])
t = threading.Thread(target=work)
t.start()
t.join()
print(out[1])
"""


def _child(code: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@glibc_only
def test_kept_memory_is_not_faulted_in_again():
    system, keep = (int(_child(FAULTS, mode)) for mode in ("system", "keep"))
    # Each round faults its block in again (per 4 KiB page, or per 2 MiB where transparent huge pages back it).
    assert system >= 10, f"glibc's defaults map and unmap each 64 MiB block: {system} faults in ten rounds"
    assert keep * 10 < system, f"kept memory is reused: {keep} faults in ten rounds, against {system}"


@glibc_only
def test_run_records_its_malloc(bench_cli, tmp_path):
    args = ["run", "--backend", "null", "--count", "8", "--duration", "0.3"]
    for mode in ("system", "keep"):
        out = tmp_path / mode
        assert bench_cli(*args, "--malloc", mode, "--output", out).exit_code == 0
        record = only_run(out)
        assert record["config"]["malloc"] == mode
        held = record["process"]["malloc"]
        assert held["mode"] == mode and held["libc"].startswith("glibc")
        cpu = record["performance"]["cpu"]
        assert cpu["seconds"] > 0 and cpu["user_cores"] >= 0 and cpu["minor_faults_per_s"] >= 0
    # keep applied; a later system run in the same process cannot undo it, and its record says what held.
    assert held["in_force"] == {"M_ARENA_MAX": 1, "M_MMAP_MAX": 0, "M_TRIM_THRESHOLD": 2**31 - 1}


def test_malloc_choices_are_checked(bench_cli, tmp_path):
    result = bench_cli("run", "--backend", "null", "--malloc", "jemalloc", "--output", tmp_path)
    assert result.exit_code == 2 and "jemalloc" in result.output


# torch on the main thread leaves it an OpenMP team; releasing it ends that team's threads.
OPENMP = """
import json, os
import torch
from bench.backends.cpu_streams import release_openmp_team
torch.set_num_threads(2)
x = torch.rand(512, 512)
for _ in range(20):
    x @ x  # large enough for a parallel region: the main thread's team starts
before = len(os.listdir("/proc/self/task"))
released = release_openmp_team()
after = len(os.listdir("/proc/self/task"))
print(json.dumps({"before": before, "after": after, "released": released}))
"""


def _libgomp(torch) -> bool:
    return "OpenMP" in torch.__config__.parallel_info() and "libgomp" in open("/proc/self/maps").read()


def test_main_thread_openmp_team_is_released():
    torch = pytest.importorskip("torch")
    if not _libgomp(torch):
        pytest.skip("this torch does not run on GNU OpenMP (libgomp)")
    seen = json.loads(_child(OPENMP))
    assert seen["released"] and all("libgomp" in p for p in seen["released"]), seen
    assert seen["after"] < seen["before"], seen  # the team's idle thread ended


def test_torch_records_the_release(bench_cli, tmp_path):
    torch = pytest.importorskip("torch")
    result = bench_cli("run", "--backend", "torch", "--model", "resnet18", "--count", "8", "--batch-size", "2",
                       "--duration", "0.3", "--output", tmp_path)
    assert result.exit_code == 0, result.output
    released = only_run(tmp_path)["backend"]["main_thread_openmp_released"]
    assert isinstance(released, list)
    if _libgomp(torch):
        assert released and "libgomp" in released[0]


@glibc_only
def test_malloc_in_force_is_read_from_the_process_environment(tmp_path):
    """MALLOC_* and GLIBC_TUNABLES set glibc's malloc at start-up: the record says so rather than glibc's defaults,
    GLIBC_TUNABLES over its alias (as glibc does), and --malloc keep's own settings over both."""
    import os

    from bench.system import malloc
    from tests.conftest import ROOT

    env = {**os.environ, "PYTHONPATH": str(ROOT), "MALLOC_ARENA_MAX": "2", "MALLOC_TOP_PAD_": "65536",
           "GLIBC_TUNABLES": "glibc.malloc.arena_max=4:glibc.malloc.mmap_max=3:glibc.cpu.hwcaps=-AVX512F"}
    held = {}
    for mode in ("system", "keep"):
        out = tmp_path / mode
        done = subprocess.run([sys.executable, "-m", "bench.cli", "run", "--backend", "null", "--count", "8",
                               "--duration", "0.3", "--malloc", mode, "--output", str(out)],
                              check=False, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        held[mode] = only_run(out)["process"]["malloc"]
    assert held["system"]["in_force"] == {"M_ARENA_MAX": 4, "M_MMAP_MAX": 3, "M_TOP_PAD": 65536}
    assert held["system"]["environment"] == {k: env[k] for k in ("MALLOC_ARENA_MAX", "MALLOC_TOP_PAD_",
                                                                 "GLIBC_TUNABLES")}
    assert held["keep"]["in_force"] == {**malloc.KEEP_VALUES, "M_TOP_PAD": 65536}
    # Without any of them, the record shows bench's own settings only (the run above in this process: none).
    assert malloc.from_environment({"PATH": "/bin", "MALLOC_CONF": "x"}) == ({}, {})
