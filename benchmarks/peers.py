"""Our numbers against each runtime's own measuring tool, same model file, batch and threads.

- openvino: our backend through LoadGen Offline against OpenVINO's `benchmark_app` (shipped in the openvino wheel)
  on the same ONNX file, with the same shape range (our backend compiles a bounded dynamic batch 1..B), inference
  precision f32, threads, streams and infer requests (read back from our compiled model).
- onnxruntime: our backend through LoadGen Offline against a bare InferenceSession.run loop on one ready batch, same
  file, session options and threads.

What each side times:
- ours: LoadGen's Offline samples/s, first issue to last completion: gathering each batch from the loaded samples
  (a host-side copy of B x 0.6 MB), inference, argmax and the response to LoadGen.
- benchmark_app: async inference requests on input tensors it fills once before measuring (-inference_only true;
  for dynamic shapes its default would put the filling inside the loop), so no host-side copies; it reports its
  own throughput (FPS = samples/s). benchmark_app only takes -nstreams/-nthreads with -hint none, so the streams
  and requests that our THROUGHPUT-hinted model resolved to are passed explicitly.
- bare loop: session.run on one contiguous batch made before timing; no copies, no argmax, no responses.

    python benchmarks/peers.py                       # resnet18, batch 8, 1 thread, ~2 minutes
    python benchmarks/peers.py --model resnet50 --threads 2 --seconds 20
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from measure import estimate, load, loadgen, median

import backends


def benchmark_app(loaded, args) -> float:
    """One benchmark_app run with our compiled model's configuration; its reported throughput."""
    tool = shutil.which("benchmark_app") or str(Path(sys.executable).parent / "benchmark_app")
    b = loaded.backend
    cmd = [tool, "-m", str(b.path), "-d", "CPU", "-hint", "none", "-api", "async", "-infer_precision", "f32",
           "-shape", f"[1..{args.batch_size},3,224,224]", "-data_shape", f"[{args.batch_size},3,224,224]",
           "-nthreads", str(args.threads), "-nstreams", str(b.streams), "-nireq", str(b.requests),
           "-t", str(max(1, round(args.seconds))), "-inference_only", "true"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"benchmark_app failed ({done.returncode}): {(done.stdout + done.stderr)[-2000:]}")
    out = done.stdout
    benchmark_app.command = " ".join(["benchmark_app"] + cmd[1:])
    return float(re.search(r"Throughput:\s+([\d.]+)\s+FPS", out).group(1))


def bare_session(loaded, args) -> float:
    """session.run on one batch made before timing, from the same file and session options as our backend."""
    session, name = loaded.backend.session, loaded.backend.input_name
    batch = np.ascontiguousarray(loaded.store.dataset.array[:args.batch_size])
    session.run(None, {name: batch})
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        session.run(None, {name: batch})
        n += len(batch)
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=5.0, help="seconds per run, each side")
    ap.add_argument("--repeats", type=int, default=3, help="runs per side; medians are reported")
    args = ap.parse_args()
    print(f"{args.model}, batch {args.batch_size}, {args.threads} thread(s), fp32, {args.repeats} x {args.seconds:g} s "
          "per side (medians)", flush=True)
    result = {}
    pairs = (("onnxruntime", "bare InferenceSession loop", bare_session),
             ("openvino", "benchmark_app", benchmark_app))
    for name, peer_name, peer in pairs:
        availability = backends.probe(name)
        if not availability.available:
            print(f"  {name}: skipped ({availability.reason})", flush=True)
            continue
        loaded = load(name, model=args.model, batch_size=args.batch_size, threads=args.threads, count=64)
        ours_runs, peer_runs = [], []
        try:
            est = estimate(loaded)
            for _ in range(args.repeats):  # interleaved: background load hits both sides alike
                ours_runs.append(loadgen(loaded, est, duration_s=args.seconds)["samples_per_second"])
                peer_runs.append(peer(loaded, args))
        finally:
            loaded.close()
        ours_sps, peer_sps = median(ours_runs), median(peer_runs)
        if peer is benchmark_app:
            print(f"  {benchmark_app.command}", flush=True)
        ratio = ours_sps / peer_sps
        print(f"  {name:12s} ours (LoadGen Offline) {ours_sps:8.1f}  {peer_name} {peer_sps:8.1f} samples/s  "
              f"ratio {ratio:.3f}", flush=True)
        result[name] = {"ours_sps": round(ours_sps, 2), "peer": peer_name, "peer_sps": round(peer_sps, 2),
                        "ratio": round(ratio, 4)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
