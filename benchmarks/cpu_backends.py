"""CPU throughput against the machine's own ceiling: dense-matmul rate per native precision, then ResNet-50
Offline through the harness for each available backend x precision, in one run.

    python benchmarks/cpu_backends.py [--duration 3] [--batch-size 8] [--backends torch,openvino,...]

The ceiling is the best dense matrix-multiply rate torch reaches here (fp32; bf16 and int8 where the CPU has
them natively) divided by ResNet-50's 8.2 GFLOP per image. Offline runs use synthetic images and weights
(speed does not depend on them); int8 is calibrated on real images. Prints a table, then one JSON line.
"""

from __future__ import annotations

import functools
import json
import tempfile
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

RESNET50_FLOP = 8.2e9
ROOT = Path(__file__).resolve().parent.parent
CALIBRATION_SOURCES = (ROOT.parent / "shared" / "data" / "imagenet-val-sample", ROOT / "tests" / "data" / "imagenet")


def matmul_rate(precision: str, seconds: float = 1.5, sizes=(1024, 2048, 4096)) -> float:
    """Best FLOP/s of square matrix multiplies in `precision` (int8: torch._int_mm, int8 x int8 -> int32)."""
    import torch

    best = 0.0
    for n in sizes:
        if precision == "int8":
            a = torch.randint(-64, 64, (n, n), dtype=torch.int8)
            b = torch.randint(-64, 64, (n, n), dtype=torch.int8)
            op = functools.partial(torch._int_mm, a, b)
        else:
            dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
            a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
            op = functools.partial(torch.matmul, a, b)
        op()  # first call: allocation, kernel selection
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / len(sizes) or count < 2:
            op()
            count += 1
        best = max(best, 2 * n**3 * count / elapsed)
    return best


def native_precisions(flags: set[str]) -> list[str]:
    from bench.backends.precision import native_bf16

    found = ["fp32"]
    if native_bf16(flags):
        found.append("bf16")
    if flags & {"avx512_vnni", "avx_vnni", "amx_int8"}:
        found.append("int8")
    return found


def calibration_list(folder: Path, count: int, out: Path) -> Path:
    """An MLPerf-format list of the first `count` images of val_map.txt."""
    names = [line.split()[0] for line in (folder / "val_map.txt").read_text().splitlines() if line.strip()]
    out.write_text("\n".join(names[:count]) + "\n")
    return out


def offline(backend: str, precision: str, args: dict, extra: dict, output: Path) -> dict:
    from bench.config.run_config import RunConfig
    from bench.run import harness

    cfg = RunConfig(backend=backend, scenario="offline", model="resnet50", precision=precision,
                    batch_size=args["batch_size"], threads=args["threads"], duration_s=args["duration"],
                    count=args["count"], output=str(output), extra=extra)
    return harness.run(cfg, Console(stderr=True, quiet=True))


@click.command()
@click.option("--duration", type=float, default=3.0, show_default=True, help="Seconds of each timed Offline run.")
@click.option("--batch-size", type=int, default=8, show_default=True)
@click.option("--threads", type=int, help="Inference threads (default: each backend's own choice, all cores).")
@click.option("--count", type=int, default=64, show_default=True, help="Synthetic samples in the working set.")
@click.option("--backends", "names", default="torch,torch-compile,onnxruntime,openvino", show_default=True)
@click.option("--precisions", default="fp32,bf16,int8", show_default=True)
@click.option("--calibration-count", type=int, default=32, show_default=True, help="Real images for int8.")
def main(duration, batch_size, threads, count, names, precisions, calibration_count):
    from bench import backends
    from bench.backends.precision import read_cpu_flags
    from bench.system import sysinfo

    console = Console(width=150)  # the table whole, even when piped
    args = {"duration": duration, "batch_size": batch_size, "threads": threads, "count": count}
    flags = read_cpu_flags()
    native = native_precisions(flags)
    ceilings = {p: matmul_rate(p) / RESNET50_FLOP for p in native}
    console.print(f"CPU: {sysinfo.collect()['cpu']}, {len(__import__('os').sched_getaffinity(0))} usable cores; "
                  f"native precisions {', '.join(native)}")
    folder = next((p for p in CALIBRATION_SOURCES if (p / "val_map.txt").is_file()), None)
    rows, best = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        cal = calibration_list(folder, calibration_count, Path(tmp) / "cal.txt") if folder else None
        for name in names.split(","):
            if not backends.probe(name).available:
                console.print(f"[yellow]{name}: not available here, skipped[/]")
                continue
            for precision in precisions.split(","):
                extra = {"calibration": str(cal), "calibration_dataset": str(folder)} if precision == "int8" else {}
                try:
                    opts = backends.BackendOptions(precision, "cpu", batch_size, threads, "throughput", extra)
                    backends.backend_class(name).check_options(opts)
                except Exception as exc:  # a combination this backend or CPU cannot honour: say so, move on
                    console.print(f"[dim]{name} {precision}: {str(exc).split(';')[0]}[/]")
                    continue
                console.print(f"running {name} {precision} ...")
                record = offline(name, precision, args, extra, Path(tmp) / "results")
                sps = record["performance"]["samples_per_second"]
                ceiling = ceilings.get(precision)
                info = record["backend"]
                rows.append((name, precision, sps, ceiling, record["performance"]["loadgen_validity"],
                             record["timing"]["load_s"], info))
                best[precision] = max(best.get(precision, 0.0), sps)
    table = Table(title=f"ResNet-50 Offline, batch {batch_size}, {duration:g} s runs (shared, noisy machine)")
    for column in ("backend", "precision", "samples/s", "ceiling", "ratio", "LoadGen", "load s", "ran as"):
        table.add_column(column)
    for name, precision, sps, ceiling, validity, load_s, info in rows:
        ran = info.get("inference_precision") or info.get("dtype") or info["precision"]
        if precision == "int8":
            ran = f"int8, rest {ran}" if ran != "int8" else ran
        if "streams" in info:  # OpenVINO also says how many infer requests; the CPU stream pool (cpu_streams) does not
            ran += f", {info['streams']} streams" + (f"/{info['infer_requests']} req" if "infer_requests" in info else "")
        table.add_row(name, precision, f"{sps:.1f}", f"{ceiling:.1f}" if ceiling else "-",
                      f"{sps / ceiling:.2f}" if ceiling else "-", validity, f"{load_s:.1f}", ran)
    console.print(table)
    console.print("ceilings (samples/s = matmul FLOP/s / 8.2 GFLOP): " +
                  ", ".join(f"{p} {c:.1f} ({c * RESNET50_FLOP / 1e9:.0f} GFLOP/s)" for p, c in ceilings.items()))
    fp32, bf16, int8 = best.get("fp32"), best.get("bf16"), best.get("int8")
    print(json.dumps({
        "cpu_flags": sysinfo.cpu_flags(), "ceiling_fp32": round(ceilings["fp32"], 2),
        "best_fp32": fp32, "best_fp32_ratio": round(fp32 / ceilings["fp32"], 3) if fp32 else None,
        "best_bf16": bf16, "best_int8": int8,
        "int8_speedup": round(int8 / fp32, 2) if int8 and fp32 else None,
    }))


if __name__ == "__main__":
    main()
