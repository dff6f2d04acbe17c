"""What bench's two process settings for torch on the CPU are worth: `--malloc keep` (bench/system/malloc.py) and the
main thread's OpenMP team released after load (backends/cpu_streams.py).

A plain channels_last `model(x)` loop under inference_mode, one ready batch, each variant in a fresh process (both
settings act on the whole process), in interleaved rounds. Per variant: samples/s, the cores the process kept busy
(CPU time / wall), the share of it in the kernel, and minor page faults per batch; medians over the rounds, and
each variant's rate as a ratio to glibc's defaults on a worker thread in the same round.

    python benchmarks/malloc_openmp.py --models resnet50,efficientnet-lite0 --seconds 15 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import threading
import time

from measure import ArrayDataset, banner, median

from bench import models

VARIANTS = {  # name: (malloc, release the main thread's team, run on a worker thread)
    "glibc defaults, worker thread": ("system", False, True),
    "glibc defaults, main thread": ("system", False, False),
    "malloc kept, worker thread": ("keep", False, True),
    "team released, worker thread": ("system", True, True),
    "both (bench), worker thread": ("keep", True, True),
    "malloc kept, main thread": ("keep", False, False),
}
BASE = "glibc defaults, worker thread"


def variant(name: str, model: str, args) -> dict:
    """One variant in this process: build, warm, then a timed loop of args.seconds."""
    import torch

    from bench.backends.cpu_streams import release_openmp_team
    from bench.system import malloc

    kind, release, worker = VARIANTS[name]
    malloc.apply(kind)
    if args.threads:
        torch.set_num_threads(args.threads)
    spec = models.resolve(model, "synthetic", None, 0)
    net = models.build_torch(spec).to(memory_format=torch.channels_last).eval()
    x = torch.from_numpy(ArrayDataset(args.batch_size, spec.input_size).array).contiguous(
        memory_format=torch.channels_last)
    with torch.inference_mode():
        net(x)  # the main thread's team starts here, as bench's load starts it
    if release:
        release_openmp_team()
    out = {}

    def loop() -> None:
        with torch.inference_mode():
            for _ in range(2):
                net(x)
            before, n, start = resource.getrusage(resource.RUSAGE_SELF), 0, time.perf_counter()
            while time.perf_counter() - start < args.seconds:
                net(x)
                n += len(x)
            wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
        user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
        out.update(samples_per_s=n / wall, cores=(user + system) / wall, kernel_share=system / max(user + system, 1e-9),
                   faults_per_batch=(after.ru_minflt - before.ru_minflt) / (n / len(x)))

    if worker:
        thread = threading.Thread(target=loop)
        thread.start()
        thread.join()
    else:
        loop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="resnet50,efficientnet-lite0")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=None, help="torch's threads (default: its own, the cores)")
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--variant", help=argparse.SUPPRESS)  # run one variant in this process (the rounds' child)
    args = ap.parse_args()
    if args.variant:
        print(json.dumps(variant(args.variant, args.models, args)))
        return
    system = banner(args, "variant")
    rows = []
    for model in args.models.split(","):
        runs: dict[str, list[dict]] = {name: [] for name in VARIANTS}
        for _ in range(args.rounds):
            for name in VARIANTS:
                cmd = [sys.executable, __file__, "--variant", name, "--models", model, "--seconds", str(args.seconds),
                       "--batch-size", str(args.batch_size)]
                cmd += ["--threads", str(args.threads)] if args.threads else []
                done = subprocess.run(cmd, capture_output=True, text=True, check=True)
                runs[name].append(json.loads(done.stdout.splitlines()[-1]))
        for name, seen in runs.items():
            ratios = [s["samples_per_s"] / b["samples_per_s"] for s, b in zip(seen, runs[BASE])]
            row = {"model": model, "variant": name, **{k: round(median([s[k] for s in seen]), 3) for k in seen[0]},
                   "ratio": round(median(ratios), 3), "ratio_min": round(min(ratios), 3),
                   "ratio_max": round(max(ratios), 3)}
            rows.append(row)
            print(f"  {model:18s} {name:31s} {row['samples_per_s']:8.2f} samples/s  {row['cores']:.2f} cores  "
                  f"kernel {row['kernel_share']:.0%}  {row['faults_per_batch']:9.0f} faults/batch  "
                  f"x{row['ratio']:.2f} ({row['ratio_min']:.2f}..{row['ratio_max']:.2f})", flush=True)
    print(json.dumps({"system": {k: system.get(k) for k in ("cpu", "cpu_flags")}, "rows": rows}))


if __name__ == "__main__":
    main()
