"""Quality of lower precisions on real images: top-1 agreement and logit cosine similarity against the same
backend's fp32, for bf16 and int8, on the shared ImageNet validation sample.

    python benchmarks/precision_quality.py [--models resnet50,efficientnet-lite0] [--calibration-count 20]

int8 is calibrated on the last --calibration-count images and judged on the others (disjoint sets).
ResNet-50 here has seeded random weights (agreement only); EfficientNet-Lite0 is trained, so its top-1
against the labels is printed too.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click
import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT.parent / "shared" / "data" / "imagenet-val-sample"
# (backend, precision) measured against (backend, fp32).
PAIRS = (("torch", "bf16"), ("openvino", "bf16"), ("openvino", "int8"), ("onnxruntime", "int8"))


def logits(backend_name: str, spec, precision: str, images: np.ndarray, extra: dict) -> np.ndarray:
    from bench import backends

    opts = backends.BackendOptions(precision, "cpu", 8, None, "throughput", extra)
    backend = backends.create(backend_name, opts)
    backend.load(spec, opts)
    out = np.concatenate([backend.logits(images[i:i + 8]) for i in range(0, len(images), 8)])
    backend.close()
    return out


@click.command()
@click.option("--models", "names", default="resnet50,efficientnet-lite0", show_default=True)
@click.option("--dataset", type=click.Path(exists=True), default=str(SAMPLE), show_default=True)
@click.option("--calibration-count", type=int, default=20, show_default=True)
@click.option("--pairs", default=",".join(f"{b}:{p}" for b, p in PAIRS), show_default=True,
              help="backend:precision pairs to compare with that backend's fp32.")
def main(names, dataset, calibration_count, pairs):
    from bench import backends, models
    from bench.data.preprocessing import preprocess

    console = Console()
    folder = Path(dataset)
    lines = [line.split() for line in (folder / "val_map.txt").read_text().splitlines() if line.strip()]
    measured, calibration = lines[:-calibration_count], lines[-calibration_count:]
    labels = np.array([int(label) for _, label in measured])
    table = Table(title=f"lower precision vs fp32, {len(measured)} real images ({folder.name}); "
                        f"int8 calibrated on {len(calibration)} others")
    for column in ("model", "backend", "precision", "top-1 agreement", "cosine mean", "cosine min",
                   "top-1 fp32", "top-1 low"):
        table.add_column(column)
    summary = []
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "cal.txt"
        listing.write_text("\n".join(name for name, _ in calibration) + "\n")
        extra = {"calibration": str(listing), "calibration_dataset": str(folder)}
        for name in names.split(","):
            spec = models.resolve(name)
            images = np.stack([preprocess(str(folder / f), spec.preprocessing) for f, _ in measured])
            fp32: dict[str, np.ndarray] = {}
            for backend_name, precision in (pair.split(":") for pair in pairs.split(",")):
                try:
                    opts = backends.BackendOptions(precision, "cpu", 8, None, "throughput", extra)
                    backends.backend_class(backend_name).check_options(opts)
                except Exception as exc:  # not here (no native bf16, package missing): say so
                    console.print(f"[dim]{backend_name} {precision}: {exc}[/]")
                    continue
                if backend_name not in fp32:
                    fp32[backend_name] = logits(backend_name, spec, "fp32", images, {})
                ref, low = fp32[backend_name], logits(backend_name, spec, precision, images, extra)
                cos = (ref * low).sum(1) / np.linalg.norm(ref, axis=1) / np.linalg.norm(low, axis=1)
                agree = float((ref.argmax(1) == low.argmax(1)).mean())
                top1 = [float((x.argmax(1) == labels).mean()) for x in (ref, low)] if not spec.synthetic else None
                table.add_row(name, backend_name, precision, f"{agree:.1%}", f"{cos.mean():.5f}", f"{cos.min():.5f}",
                              f"{top1[0]:.0%}" if top1 else "-", f"{top1[1]:.0%}" if top1 else "-")
                summary.append({"model": name, "backend": backend_name, "precision": precision,
                                "top1_agreement": round(agree, 4), "cosine_mean": round(float(cos.mean()), 5),
                                "cosine_min": round(float(cos.min()), 5),
                                "top1_fp32": top1[0] if top1 else None, "top1_low": top1[1] if top1 else None})
    console.print(table)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
