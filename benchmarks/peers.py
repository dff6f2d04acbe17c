"""bench against every peer: what a user gets by hand, or from each runtime's own tool, on the same model file,
batch and threads. Every side runs in a process of its own, as a user would run it, so no side inherits another's
allocator settings, OpenMP teams or warm caches. Interleaved rounds: in each round every pair runs back to back
(bench, then its peers), so a background job slows both sides alike; per model and pair: medians, and the median
and spread of the per-round ratios bench / peer.

Pairs (bench's side: `bench run --scenario offline` itself, on 64 seeded synthetic images; its figure is LoadGen's
result_samples_per_second from the record):
- torch vs a plain `model(x)` loop under inference_mode, in both memory formats (contiguous, channels_last): the
  same architecture and weights built separately, one ready batch, no copies, no argmax; on the main thread as a
  script would run it, and on a thread of its own.
- onnxruntime vs a bare InferenceSession.run loop on one ready batch, same ONNX file and intra-op threads.
- openvino vs `benchmark_app -hint throughput` (shipped in the openvino wheel) on the same ONNX file at a static
  batch, choosing its own streams and requests, with inference precision f32.
- onnxruntime vs MLPerf's reference app (vision/classification_and_detection/python/main.py of a checkout given
  with --mlperf-ref, with its own requirements installed), Offline, same ONNX file, on --dataset (an ImageNet-style
  directory with val_map.txt); not run in CI.

One more torch row is no peer but the harness's own cost: the plain channels_last loop on a thread, given the
process settings bench makes (`--malloc keep`, the main thread's OpenMP team released; see docs/performance.md).
bench / that loop is what LoadGen, the batch copy, the argmax and the responses cost. `--system-malloc` adds, for
every backend, `bench run --malloc system` as a row of its own: what `--malloc keep` is worth to that backend.

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
import tempfile
import threading
import time
from pathlib import Path

from measure import ROOT, ArrayDataset, banner, load, median

from bench import models

HARNESS_COST = "plain loop, channels_last, in a thread, bench's process settings"
SYSTEM_MALLOC = "bench run --malloc system"


def plain_torch(model: str, args, channels_last: bool, bench_settings: bool = False) -> float:
    import torch

    if bench_settings:
        from bench.backends.cpu_streams import release_openmp_team
        from bench.system import malloc

        malloc.apply("keep")
    if args.threads:
        torch.set_num_threads(args.threads)
    spec = models.resolve(model, "synthetic", None, 0)
    net = models.build_torch(spec)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=fmt)
    x = torch.from_numpy(ArrayDataset(args.batch_size, spec.input_size).array).contiguous(memory_format=fmt)
    if bench_settings:
        release_openmp_team()
    with torch.inference_mode():
        net(x)
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < args.seconds:
            net(x)
            n += len(x)
    return n / (time.perf_counter() - start)


def onnx_backend(backend: str, model: str, args):
    """bench's backend loaded only for its ONNX file, intra-op threads and tensor names (glibc's own malloc)."""
    return load(backend, model=model, batch_size=args.batch_size, threads=args.threads, count=args.batch_size,
                malloc="system")


def bare_onnxruntime(model: str, args) -> float:
    loaded = onnx_backend("onnxruntime", model, args)
    try:
        return bare_loop(loaded, args.batch_size, args.seconds)
    finally:
        loaded.close()


def bare_loop(loaded, batch_size: int, seconds: float) -> float:
    """A bare InferenceSession.run loop on one ready batch: the loaded backend's ONNX file and intra-op threads."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = loaded.backend.describe()["threads"]
    session = ort.InferenceSession(str(loaded.backend.path), so, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    batch = loaded.store.dataset.array[:batch_size].copy()
    session.run(None, {name: batch})
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        session.run(None, {name: batch})
        n += len(batch)
    return n / (time.perf_counter() - start)


def benchmark_app(model: str, args) -> float:
    loaded = onnx_backend("openvino", model, args)
    path, size = loaded.backend.path, loaded.store.dataset.array.shape[-1]
    loaded.close()
    tool = shutil.which("benchmark_app") or str(Path(sys.executable).parent / "benchmark_app")
    cmd = [tool, "-m", str(path), "-d", "CPU", "-hint", "throughput", "-infer_precision", "f32",
           "-shape", f"[{args.batch_size},3,{size},{size}]", "-t", str(max(1, round(args.seconds)))]
    if args.threads:
        cmd += ["-nthreads", str(args.threads)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    found = re.search(r"Throughput:\s+([\d.]+)\s+FPS", done.stdout)
    if done.returncode != 0 or not found:
        raise SystemExit(f"benchmark_app failed ({done.returncode}): {(done.stdout + done.stderr)[-2000:]}")
    return float(found.group(1))


def mlperf_reference(model: str, args) -> float:
    """MLPerf's reference app, Offline, on the same ONNX file; its samples/s from its LoadGen summary.

    LoadGen's own Offline minimum is 24,576 samples (15 minutes of ResNet-50 on two cores), so the user.conf lifts
    it and `--qps` (the app's expected QPS) is the bare loop's rate over a few seconds: the run then lasts --time."""
    loaded = onnx_backend("onnxruntime", model, args)
    b, qps = loaded.backend, bare_loop(loaded, args.batch_size, 3.0)
    loaded.close()
    app = Path(args.mlperf_ref) / "vision" / "classification_and_detection" / "python" / "main.py"
    out = Path(tempfile.mkdtemp(prefix="mlperf-ref-"))
    (out / "user.conf").write_text("*.Offline.min_query_count = 1\n")
    cmd = [sys.executable, str(app), "--profile", "resnet50-onnxruntime", "--model", str(b.path),
           "--inputs", b.input_name, "--outputs", b.output_name, "--user_conf", str(out / "user.conf"),
           "--dataset-path", str(args.dataset), "--scenario", "Offline", "--output", str(out),
           "--time", str(max(1, round(args.seconds))), "--threads", str(b.concurrency),
           "--max-batchsize", str(args.batch_size), "--qps", str(max(1, round(qps)))]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=app.parent)
    summary = out / "mlperf_log_summary.txt"
    found = re.search(r"Samples per second\s*:\s*([\d.]+)", summary.read_text()) if summary.exists() else None
    if not found:
        raise SystemExit(f"MLPerf's reference app failed ({done.returncode}): {(done.stdout + done.stderr)[-2000:]}")
    return float(found.group(1))


def in_thread(fn):
    """The same peer on a thread of its own, as bench's workers are."""
    def run(model: str, args) -> float:
        out = []
        worker = threading.Thread(target=lambda: out.append(fn(model, args)))
        worker.start()
        worker.join()
        return out[0]
    return run


PAIRS = {  # bench backend -> its peers (and, for torch, the harness-cost row)
    "torch": {"plain loop, contiguous": lambda m, a: plain_torch(m, a, False),
              "plain loop, channels_last": lambda m, a: plain_torch(m, a, True),
              "plain loop, contiguous, in a thread": in_thread(lambda m, a: plain_torch(m, a, False)),
              "plain loop, channels_last, in a thread": in_thread(lambda m, a: plain_torch(m, a, True)),
              HARNESS_COST: in_thread(lambda m, a: plain_torch(m, a, True, bench_settings=True))},
    "onnxruntime": {"bare InferenceSession.run loop": bare_onnxruntime},
    "openvino": {"benchmark_app -hint throughput": benchmark_app},
}


def bench_side(backend: str, model: str, args, *extra: str) -> float:
    """`bench run` itself, Offline, in a process of its own; LoadGen's samples/s from the record."""
    with tempfile.TemporaryDirectory(prefix="peers-bench-") as out:
        cmd = [sys.executable, "-c", "from bench.cli import main; main()", "run", "--backend", backend,
               "--model", model, "--batch-size", str(args.batch_size), "--count", "64",
               "--duration", str(args.seconds), "--output", out, *extra]
        cmd += ["--threads", str(args.threads)] if args.threads else []
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        records = list(Path(out).glob("*/result.json"))
        if done.returncode != 0 or not records:
            raise SystemExit(f"bench run failed ({done.returncode}): {done.stderr[-2000:]}")
        record = json.loads(records[0].read_text())
        if not extra:
            bench_side.described[(backend, model)] = record["backend"]
        return record["performance"]["samples_per_second"]


bench_side.described = {}


def side(backend: str, model: str, peer: str, args) -> float:
    """One side of a pair, in a fresh process: this script again, told which side to run."""
    if peer == "bench":
        return bench_side(backend, model, args)
    if peer == SYSTEM_MALLOC:
        return bench_side(backend, model, args, "--malloc", "system")
    cmd = [sys.executable, __file__, "--side", f"{backend}:{peer}", "--models", model,
           "--batch-size", str(args.batch_size), "--seconds", str(args.seconds)]
    cmd += ["--threads", str(args.threads)] if args.threads else []
    cmd += ["--mlperf-ref", args.mlperf_ref, "--dataset", args.dataset] if args.mlperf_ref else []
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{backend} peer {peer!r} failed ({done.returncode}): {done.stderr[-2000:]}")
    return float(done.stdout.split()[-1])


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
    ap.add_argument("--system-malloc", action="store_true", help="add `bench run --malloc system` for each backend")
    ap.add_argument("--side", help=argparse.SUPPRESS)  # BACKEND:PEER, run in this process (the rounds' child)
    args = ap.parse_args()
    if args.mlperf_ref:
        PAIRS["onnxruntime"]["MLPerf reference app"] = mlperf_reference
    if args.system_malloc:
        for peers in PAIRS.values():
            peers[SYSTEM_MALLOC] = None  # bench_side's, run by side()
    if args.side:
        backend, peer = args.side.split(":", 1)
        print(PAIRS[backend][peer](args.models, args))
        return
    from bench import backends

    system = banner(args, "side")
    names = []
    for name in args.backends.split(","):
        if backends.probe(name).available:
            names.append(name)
        else:
            print(f"  {name}: skipped ({backends.probe(name).reason})")
    table = []
    for model in args.models.split(","):
        runs: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for name in names:
                for peer in ("bench", *PAIRS[name]):
                    runs.setdefault((name, peer), []).append(side(name, model, peer, args))
        for name in names:
            ran = bench_side.described[(name, model)]
            ours = runs[(name, "bench")]
            for peer in PAIRS[name]:
                theirs = runs[(name, peer)]
                ratios = [a / b for a, b in zip(ours, theirs)]
                row = {"model": model, "backend": name, "peer": peer, "bench_sps": round(median(ours), 2),
                       "peer_sps": round(median(theirs), 2), "ratio": round(median(ratios), 3),
                       "ratio_min": round(min(ratios), 3), "ratio_max": round(max(ratios), 3),
                       "streams": ran.get("streams"), "threads": ran.get("threads"),
                       "bench_rounds": [round(r, 2) for r in ours], "peer_rounds": [round(r, 2) for r in theirs]}
                table.append(row)
                print(f"  {model:18s} {name:12s} {median(ours):8.2f}  vs {peer:40s} {median(theirs):8.2f} samples/s  "
                      f"ratio {row['ratio']:.3f} ({row['ratio_min']:.3f}..{row['ratio_max']:.3f})", flush=True)
    print(json.dumps({"system": {k: system.get(k) for k in ("cpu", "cpu_flags")}, "rows": table}))


if __name__ == "__main__":
    main()
