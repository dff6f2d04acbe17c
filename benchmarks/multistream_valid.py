"""MultiStream on each CPU backend: does a default quick-profile run end VALID (662 queries of 8 samples, LoadGen's
early-stopping p99 estimate)? One `bench run` per backend, in a fresh process, as a user runs it.

    python benchmarks/multistream_valid.py [--backends torch,onnxruntime,openvino] [--model resnet18]

Prints a row per backend and, last, one JSON line: {backend: {valid, queries, metric_ms, p99_ms, wall_s}}.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time


def run(backend: str, model: str, duration: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-ms-") as out:
        command = [sys.executable, "-m", "bench.cli", "run", "--backend", backend, "--model", model,
                   "--scenario", "multi-stream", "--count", "64", "--duration", str(duration), "--output", out,
                   "--json"]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        wall = time.perf_counter() - start
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:], "wall_s": round(wall, 1)}
    perf = json.loads(done.stdout)["performance"]
    return {"valid": perf["valid"], "queries": perf["queries"], "samples_per_query": perf["samples_per_query"],
            "metric_ms": perf["result_metric"]["value"], "p99_ms": perf["latency_ms"]["p99"],
            "reasons": perf["invalid_reasons"], "wall_s": round(wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="torch,onnxruntime,openvino")
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--duration", type=float, default=1.0, help="minimum duration (the 662 queries dominate)")
    args = parser.parse_args()
    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "unknown")
    print(f"CPU: {cpu}; {args.model}, MultiStream quick profile")
    found = {}
    for backend in args.backends.split(","):
        found[backend] = row = run(backend, args.model, args.duration)
        print(f"{backend:12s} {'VALID' if row.get('valid') else 'INVALID/ERROR'} {row}")
    print(json.dumps(found))


if __name__ == "__main__":
    main()
