"""torch on the CPU: which sample form is faster, float32 NCHW (normalised on the host, untimed) or uint8 NHWC with
the normalisation as the model's first op (backends/device_input.py)? torch's CPU backend takes the winner
(backends/torch_backend.py CPU_SAMPLE_FORM); this script is the figure behind that choice.

Per round, interleaved (a background job slows both alike): the batch's host gather from a store of `--store`
samples (np.take, as bench/run/qsl.py does it) plus the forward, in each form, each model memory format. Medians.

    python benchmarks/torch_input_form.py --model resnet50 --batch-size 8 --rounds 5
    python benchmarks/torch_input_form.py --smallest      # the smoke run tests/test_device_input.py makes
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--store", type=int, default=256, help="samples held, each form")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iters", type=int, default=3, help="batches per form per round")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--smallest", action="store_true", help="resnet18 at 32x32, batch 2: a smoke run")
    args = parser.parse_args()
    if args.smallest:
        args.model, args.size, args.batch_size, args.store, args.rounds, args.iters = "resnet18", 32, 2, 8, 1, 1

    import torch

    from bench.backends.device_input import normaliser
    from bench.models import build_torch, resolve

    if args.threads:
        torch.set_num_threads(args.threads)
    spec = resolve(args.model, "synthetic", None, 0, None)
    profile = spec.preprocessing
    model = build_torch(spec).eval()
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (args.store, args.size, args.size, 3), dtype=np.uint8)
    floats = np.ascontiguousarray(  # the same images, normalised on the host as the store holds them today
        normaliser(torch, profile, torch.float32, torch.contiguous_format, "cpu")(torch.from_numpy(pixels)).numpy())
    formats = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}
    norms = {k: normaliser(torch, profile, torch.float32, f, "cpu") for k, f in formats.items()}
    models = {k: build_torch(spec).eval().to(memory_format=f) for k, f in formats.items()}
    buffers = {"float32-nchw": np.empty((args.batch_size,) + floats.shape[1:], np.float32),
               "uint8-nhwc": np.empty((args.batch_size,) + pixels.shape[1:], np.uint8)}
    del model

    def step(form: str, fmt: str, rows: np.ndarray) -> None:
        if form == "float32-nchw":
            batch = np.take(floats, rows, axis=0, out=buffers[form], mode="clip")
            x = torch.from_numpy(batch).contiguous(memory_format=formats[fmt])
        else:
            batch = np.take(pixels, rows, axis=0, out=buffers[form], mode="clip")
            x = norms[fmt](torch.from_numpy(batch))
        models[fmt](x).argmax(1)

    cells = [(form, fmt) for form in buffers for fmt in formats]
    times: dict = {c: [] for c in cells}
    with torch.inference_mode():
        for cell in cells:  # untimed first call: oneDNN's primitives for this shape
            step(*cell, np.arange(args.batch_size))
        for _ in range(args.rounds):
            for cell in cells:
                t0 = time.perf_counter()
                for _ in range(args.iters):
                    step(*cell, rng.integers(0, args.store, args.batch_size))
                times[cell].append((time.perf_counter() - t0) / args.iters)
    rows = []
    for (form, fmt), ts in times.items():
        med = statistics.median(ts)
        rows.append({"form": form, "memory_format": fmt, "ms_per_batch": round(med * 1e3, 3),
                     "samples_per_s": round(args.batch_size / med, 1),
                     "spread_pct": round(100 * (max(ts) - min(ts)) / med, 1)})
        print(f"{form:13s} {fmt:14s} {med * 1e3:9.3f} ms/batch {args.batch_size / med:9.1f} samples/s "
              f"(spread {rows[-1]['spread_pct']}%)")
    best = {form: max((r for r in rows if r["form"] == form), key=lambda r: r["samples_per_s"]) for form in buffers}
    ratio = best["uint8-nhwc"]["samples_per_s"] / best["float32-nchw"]["samples_per_s"]
    print(f"best uint8-nhwc / best float32-nchw: {ratio:.3f} ({args.model}, batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads, {args.size}x{args.size})")
    print(json.dumps({"model": args.model, "batch": args.batch_size, "threads": torch.get_num_threads(),
                      "rows": rows, "uint8_over_float32": round(ratio, 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
