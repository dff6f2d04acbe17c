"""`bench verify --backends torch,onnxruntime --dataset DIR`: do backends agree on the same preprocessed images?

Each backend runs the same tensors; against the reference (torch fp32 when listed, else the first
backend) it reports top-1 agreement and the largest logit difference, plus each backend's top-1 on
the labels. Exits 1 when any agreement is below --threshold (fp32 against fp32: 0.99).

A backend may carry a precision, `torch:bf16`, `openvino:int8` (int8 needs --calibration): its row is
the measured cost of that precision on the same images (top-1, agreement with torch fp32). Lower
precisions are judged against --low-precision-threshold, since they are not expected to match exactly.
"""

from __future__ import annotations

import json

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from bench.config.run_config import DEFAULTS


def parse_backend(entry: str, default_precision: str = "fp32") -> tuple[str, str, str]:
    """'openvino:int8' -> (label, backend, precision); a bare name runs at the default precision."""
    name, _, precision = entry.partition(":")
    precision = precision or default_precision
    return (name if precision == "fp32" else f"{name}:{precision}"), name, precision


def compare(backend_names: list[str], cfg, batch_size: int, extra: dict | None = None) -> dict:
    """Run every backend over the dataset `cfg` names; the agreement of each with the reference."""
    from bench import backends, models
    from bench.backends.base import argmax_classes
    from bench.data.source import open_dataset

    model = models.resolve(cfg.model, cfg.weights, cfg.onnx, cfg.seed, cfg.preprocessing)
    dataset = open_dataset(cfg, model)
    labels = dataset.labels()
    # Streamed: one batch of images in RAM at a time (the full validation set is 60 GB as float32). Only the
    # reference's logits are kept (count x classes), to measure every other backend's difference batch by batch.
    entries = {parse_backend(e, cfg.precision)[0]: parse_backend(e, cfg.precision)[1:] for e in backend_names}
    default = DEFAULTS["backend"]  # the default backend (fp32) is the reference when listed
    reference = default if default in entries else next(iter(entries))
    ref_logits = None
    rows = {}
    for name in sorted(entries, key=lambda n: n != reference):  # the reference first, then the rest in order
        backend_name, precision = entries[name]
        options = backends.BackendOptions(precision, cfg.device, batch_size, cfg.threads, "throughput", extra or {})
        backend = backends.create(backend_name, options)
        backend.load(model, options)
        classes, diff, same_width = [], 0.0, True
        try:
            for start in range(0, len(dataset), batch_size):
                batch = np.stack([dataset.sample(i) for i in range(start, min(start + batch_size, len(dataset)))])
                logits = np.asarray(backend.logits(batch), dtype=np.float32)
                classes.append(argmax_classes(logits))
                if name == reference:
                    if ref_logits is None:
                        ref_logits = np.empty((len(dataset), logits.shape[1]), np.float32)
                    ref_logits[start:start + len(logits)] = logits
                elif same_width and logits.shape[1] == ref_logits.shape[1]:
                    diff = max(diff, float(np.abs(logits - ref_logits[start:start + len(logits)]).max()))
                else:
                    same_width = False
            described = backend.describe()
        finally:
            backend.close()
        classes = np.concatenate(classes)
        rows[name] = {"classes": classes, "max_logit_diff": diff if same_width else None, "top1":
                      float((classes == labels).mean()), "correct": int((classes == labels).sum()),
                      "precision": precision, "backend": described}
    ref_classes = rows[reference]["classes"]
    for row in rows.values():
        row["agreement"] = float((row.pop("classes") == ref_classes).mean())
    rows = {name: rows[name] for name in entries}  # the order asked for
    return {"reference": reference, "count": len(dataset), "model": model.describe(),
            "dataset": dataset.describe(), "backends": rows}


@click.command("verify")
@click.option("--backends", "backend_list", default="torch,onnxruntime", show_default=True,
              help="Comma-separated backends; torch (fp32) is the reference when listed.")
@click.option("--dataset", required=True, help="Directory holding val_map.txt and the images.")
@click.option("--val-map", type=click.Path(), help="val_map.txt elsewhere than DATASET/val_map.txt.")
@click.option("--count", type=int, help="Use the first N usable images (--skip-bad replaces a skipped one).")
@click.option("--model", default="resnet50", show_default=True, help="Architecture or known model.")
@click.option("--weights", default="synthetic", show_default=True, help="Checkpoint, or 'synthetic'.")
@click.option("--preprocessing", help="Preprocessing profile (default: the model's).")
@click.option("--skip-bad", is_flag=True, help="Skip and count missing or undecodable images.")
@click.option("--batch-size", type=int, default=8, show_default=True)
@click.option("--threads", type=int, help="Inference threads per backend.")
@click.option("--threshold", type=float, default=0.99, show_default=True,
              help="Lowest top-1 agreement with the reference that passes.")
@click.option("--low-precision-threshold", type=float, default=0.9, show_default=True,
              help="Lowest agreement that passes for bf16/fp16/int8 entries (backend:precision).")
@click.option("--calibration", type=click.Path(),
              help="int8 entries: a directory of calibration images, or an MLPerf calibration list.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON on stdout.")
def verify_cmd(backend_list, dataset, val_map, count, model, weights, preprocessing, skip_bad, batch_size, threads,
               threshold, low_precision_threshold, calibration, as_json):
    """Run the same images through several backends and check they agree with torch fp32."""
    from bench.config.option import Option
    from bench.config.run_config import RunConfig
    from bench.errors import RunFailed, UsageError

    for flag, value in (("--threshold", threshold), ("--low-precision-threshold", low_precision_threshold)):
        Option(flag, float, low=0, high=1, flag=flag, why="a share of the images").check_number(value)  # nan: exit 2
    names = [n.strip() for n in backend_list.split(",") if n.strip()]
    if len(names) < 2:
        raise UsageError("--backends needs at least two backends to compare, e.g. torch,onnxruntime")
    extra = {"calibration": calibration, "calibration_dataset": dataset} if calibration else {}
    cfg = RunConfig(dataset=dataset, val_map=val_map, count=count, model=model, weights=weights,
                    preprocessing=preprocessing, skip_bad=skip_bad, batch_size=batch_size, threads=threads)
    result = compare(names, cfg, batch_size, extra)  # calibration: for the int8 entries
    limit = lambda r: threshold if r["precision"] == "fp32" else low_precision_threshold  # noqa: E731
    failing = [n for n, r in result["backends"].items() if r["agreement"] < limit(r)]
    result.update(threshold=threshold, low_precision_threshold=low_precision_threshold, passed=not failing)
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
    table = Table(title=f"agreement with {result['reference']} on {result['count']} images")
    for column in ("backend", "precision", "top-1 agreement", "max |logit diff|", "top-1 vs labels", "verdict"):
        table.add_column(column)
    for name, r in result["backends"].items():
        diff = "n/a" if r["max_logit_diff"] is None else f"{r['max_logit_diff']:.2e}"
        verdict = "[red]FAIL[/]" if name in failing else "[green]PASS[/]"
        table.add_row(name.partition(":")[0], r["precision"], f"{100 * r['agreement']:.2f}%", diff,
                      f"{100 * r['top1']:.2f}% ({r['correct']}/{result['count']})", verdict)
    Console(stderr=as_json).print(table)
    if failing:
        raise RunFailed(f"top-1 agreement below its threshold ({100 * threshold:g}% fp32, "
                        f"{100 * low_precision_threshold:g}% lower precisions) for {', '.join(failing)}")
