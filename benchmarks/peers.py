"""bench against every peer: what a user gets by hand, or from each runtime's own tool, on the same model file,
batch and threads. Interleaved rounds: in each round every pair runs back to back (bench, then its peers), so a
background job slows both sides alike; per model and pair: medians, and the median and spread of the per-round
ratios bench / peer.

Pairs (bench's side: its backend through LoadGen Offline, as `bench run` measures; the same loaded backend
throughout):
- torch vs a plain `model(x)` loop under inference_mode, in both memory formats (contiguous, channels_last): the
  same architecture and weights built separately, one ready batch, no copies, no argmax; on the main thread as a
  script would run it, and on a thread of its own.
- onnxruntime vs a bare InferenceSession.run loop on one ready batch, same ONNX file and intra-op threads.
- openvino vs `benchmark_app -hint throughput` (shipped in the openvino wheel) on the same ONNX file at a static
  batch, choosing its own streams and requests, with inference precision f32.
- onnxruntime vs MLPerf's reference app (vision/classification_and_detection/python/main.py of a checkout given
  with --mlperf-ref, with its own requirements installed), Offline, same ONNX file, on --dataset (an ImageNet-style
  directory with val_map.txt); not run in CI, and not run by the helper who wrote this (see README).

    python benchmarks/peers.py --seconds 30 --rounds 3                     # ResNet-50 and EfficientNet-Lite0
    python benchmarks/peers.py --models resnet18 --seconds 5 --rounds 2    # a quick look
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from measure import estimate, load, loadgen, median

import backends
from bench import models
from bench.run.sysinfo import collect


def plain_torch(loaded, args, channels_last: bool) -> float:
    import torch

    model = models.build_torch(models.resolve(loaded.cfg.model, loaded.cfg.weights, None, loaded.cfg.seed))
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    x = torch.from_numpy(loaded.store.dataset.array[:args.batch_size].copy()).contiguous(memory_format=fmt)
    with torch.inference_mode():
        model(x)
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < args.seconds:
            model(x)
            n += len(x)
    return n / (time.perf_counter() - start)


def bare_onnxruntime(loaded, args) -> float:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = loaded.backend.describe()["threads"]
    session = ort.InferenceSession(str(loaded.backend.path), so, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    batch = loaded.store.dataset.array[:args.batch_size].copy()
    session.run(None, {name: batch})
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        session.run(None, {name: batch})
        n += len(batch)
    return n / (time.perf_counter() - start)


def benchmark_app(loaded, args) -> float:
    tool = shutil.which("benchmark_app") or str(Path(sys.executable).parent / "benchmark_app")
    size = loaded.store.dataset.array.shape[-1]
    cmd = [tool, "-m", str(loaded.backend.path), "-d", "CPU", "-hint", "throughput", "-infer_precision", "f32",
           "-shape", f"[{args.batch_size},3,{size},{size}]", "-t", str(max(1, round(args.seconds)))]
    if args.threads:
        cmd += ["-nthreads", str(args.threads)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    found = re.search(r"Throughput:\s+([\d.]+)\s+FPS", done.stdout)
    if done.returncode != 0 or not found:
        raise SystemExit(f"benchmark_app failed ({done.returncode}): {(done.stdout + done.stderr)[-2000:]}")
    return float(found.group(1))


def mlperf_reference(loaded, args) -> float:
    """MLPerf's reference app, Offline, on the same ONNX file; its samples/s from its LoadGen summary."""
    app = Path(args.mlperf_ref) / "vision" / "classification_and_detection" / "python" / "main.py"
    out = Path(args.output).resolve() / f"mlperf-ref-{int(time.time())}"
    out.mkdir(parents=True)
    (out / "user.conf").write_text("")  # the app insists on one; LoadGen's defaults plus --time apply
    b = loaded.backend
    cmd = [sys.executable, str(app), "--profile", "resnet50-onnxruntime", "--model", str(b.path),
           "--inputs", b.input_name, "--outputs", b.output_name, "--user_conf", str(out / "user.conf"),
           "--dataset-path", str(args.dataset), "--scenario", "Offline", "--output", str(out),
           "--time", str(max(1, round(args.seconds))), "--threads", str(b.concurrency),
           "--max-batchsize", str(args.batch_size)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=app.parent)
    summary = out / "mlperf_log_summary.txt"
    found = re.search(r"Samples per second\s*:\s*([\d.]+)", summary.read_text()) if summary.exists() else None
    if not found:
        raise SystemExit(f"MLPerf's reference app failed ({done.returncode}): {(done.stdout + done.stderr)[-2000:]}")
    return float(found.group(1))


def in_thread(fn):
    """The same peer on a thread of its own: on the AMD EPYC here a plain torch loop ran 1.6-3.5x faster in a
    worker thread than in the main thread, at the same CPU share (see README, Performance); bench's workers are
    threads, so this is the stronger peer."""
    def run(loaded, args) -> float:
        out = []
        worker = threading.Thread(target=lambda: out.append(fn(loaded, args)))
        worker.start()
        worker.join()
        return out[0]
    return run


PAIRS = {  # bench backend -> its peers
    "torch": {"plain loop, contiguous": lambda l, a: plain_torch(l, a, False),
              "plain loop, channels_last": lambda l, a: plain_torch(l, a, True),
              "plain loop, contiguous, in a thread": in_thread(lambda l, a: plain_torch(l, a, False)),
              "plain loop, channels_last, in a thread": in_thread(lambda l, a: plain_torch(l, a, True))},
    "onnxruntime": {"bare InferenceSession.run loop": bare_onnxruntime},
    "openvino": {"benchmark_app -hint throughput": benchmark_app},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="resnet50,efficientnet-lite0")
    ap.add_argument("--backends", default="torch,onnxruntime,openvino")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=None, help="total threads (default: each runtime's own)")
    ap.add_argument("--seconds", type=float, default=30.0, help="seconds per side per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mlperf-ref", help="a checkout of github.com/mlcommons/inference: adds its reference app")
    ap.add_argument("--dataset", help="ImageNet-style directory for the reference app")
    ap.add_argument("--output", default="results/peers")
    args = ap.parse_args()
    if args.mlperf_ref:
        PAIRS["onnxruntime"]["MLPerf reference app"] = mlperf_reference
    system = collect(None)
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {system.get('cpu')}, batch {args.batch_size}, threads "
          f"{args.threads or 'default'}, {args.rounds} rounds x {args.seconds:g} s per side", flush=True)
    table = []
    for model in args.models.split(","):
        loaded = {}
        for name in args.backends.split(","):
            if not backends.probe(name).available:
                print(f"  {name}: skipped ({backends.probe(name).reason})")
                continue
            loaded[name] = load(name, model=model, batch_size=args.batch_size, threads=args.threads, count=64)
        sizing = {name: estimate(each) for name, each in loaded.items()}
        runs: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for name, each in loaded.items():
                runs.setdefault((name, "bench"), []).append(
                    loadgen(each, sizing[name], duration_s=args.seconds)["samples_per_second"])
                for peer, fn in PAIRS[name].items():
                    runs.setdefault((name, peer), []).append(fn(each, args))
        for name, each in loaded.items():
            ran = each.backend.describe()
            ours = runs[(name, "bench")]
            for peer in PAIRS[name]:
                theirs = runs[(name, peer)]
                ratios = [a / b for a, b in zip(ours, theirs)]
                row = {"model": model, "backend": name, "peer": peer, "bench_sps": round(median(ours), 2),
                       "peer_sps": round(median(theirs), 2), "ratio": round(median(ratios), 3),
                       "ratio_min": round(min(ratios), 3), "ratio_max": round(max(ratios), 3),
                       "streams": ran.get("streams"), "threads": ran.get("threads")}
                table.append(row)
                print(f"  {model:18s} {name:12s} {median(ours):8.2f}  vs {peer:32s} {median(theirs):8.2f} samples/s  "
                      f"ratio {row['ratio']:.3f} ({row['ratio_min']:.3f}..{row['ratio_max']:.3f})", flush=True)
            each.close()
    print(json.dumps({"system": {k: system.get(k) for k in ("cpu", "cpu_flags")}, "rows": table}))


if __name__ == "__main__":
    main()
