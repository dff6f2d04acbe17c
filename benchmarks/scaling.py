"""Scaling: Offline samples/s through LoadGen against batch size and threads for each backend, and the peak memory
of whole `bench run` processes against dataset size (the QSL holds at most the performance sample count, 1024, so
the peak must stay flat beyond it).

    python benchmarks/scaling.py                                  # resnet18, batches 1,8,32, threads 1,2
    python benchmarks/scaling.py --model resnet50 --batches 1,16 --threads 1,2 --backends torch,openvino
    python benchmarks/scaling.py --skip-throughput --counts 256,1024,4096,50000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

from measure import estimate, load, loadgen

from bench import backends


def throughput(args) -> list[dict]:
    rows = []
    for name in args.backends.split(","):
        if not backends.probe(name).available:
            print(f"  {name}: skipped ({backends.probe(name).reason})", flush=True)
            continue
        for threads in map(int, args.threads.split(",")):
            for batch in map(int, args.batches.split(",")):
                loaded = load(name, model=args.model, batch_size=batch, threads=threads, count=64)
                try:
                    sps = loadgen(loaded, estimate(loaded), duration_s=args.duration)["samples_per_second"]
                finally:
                    loaded.close()
                rows.append({"backend": name, "threads": threads, "batch": batch, "samples_per_s": round(sps, 2)})
                print(f"  {name:12s} threads {threads}  batch {batch:3d}: {sps:8.1f} samples/s", flush=True)
    return rows


# A child's ru_maxrss starts from its parent's RSS at fork (Linux keeps the high-water mark across exec), and this
# process holds loaded backends: each run is started from a fresh, small interpreter that reports its child's peak.
WRAPPER = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
           "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def peak_memory(counts: list[int]) -> list[dict]:
    """Peak RSS of `bench run --backend null --count N` (224x224 synthetic images), each in its own process."""
    rows = []
    for count in counts:
        with tempfile.TemporaryDirectory() as out:
            cmd = [sys.executable, "-m", "bench.cli", "run", "--backend", "null", "--model", "resnet18",
                   "--count", str(count), "--batch-size", "8", "--duration", "1", "--output", out]
            done = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], capture_output=True, text=True)
            code, kib = map(int, done.stdout.split())
            if code != 0:
                raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr[-1000:]}")
        mib = kib / 1024  # KiB on Linux
        rows.append({"dataset_samples": count, "peak_rss_mib": round(mib, 1)})
        print(f"  dataset {count:6d} samples: peak RSS {mib:7.1f} MiB", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", default="torch,onnxruntime,openvino")
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--duration", type=float, default=3.0, help="seconds per LoadGen run")
    ap.add_argument("--counts", default="256,1024,4096,16384,50000", help="dataset sizes for the memory table")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    args = ap.parse_args()
    result = {}
    if not args.skip_throughput:
        print(f"Offline samples/s through LoadGen, {args.model}, fp32, {args.duration:g} s runs", flush=True)
        result["throughput"] = throughput(args)
    if not args.skip_memory:
        print("peak memory of `bench run --backend null` against dataset size", flush=True)
        result["memory"] = peak_memory([int(c) for c in args.counts.split(",")])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
