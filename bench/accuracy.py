"""Top-1 from LoadGen's mlperf_log_accuracy.json, the way MLPerf's accuracy-imagenet.py computes it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench.errors import RunFailed

# MLPerf's quality target: 99% of the reference fp32 top-1.
DEFAULT_THRESHOLD = 0.99


def predictions(path: str | Path) -> dict[int, int]:
    """qsl_idx -> predicted class; each response is one float32 (first element), duplicates count once."""
    try:
        entries = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RunFailed(f"cannot read LoadGen's accuracy log {path}: {exc}")
    found: dict[int, int] = {}
    for entry in entries:
        idx = int(entry["qsl_idx"])
        if idx in found or not entry["data"]:
            continue
        found[idx] = int(np.frombuffer(bytes.fromhex(entry["data"][:8]), dtype=np.float32)[0])
    return found


def evaluate(path: str | Path, labels: np.ndarray, reference_top1: float | None, threshold: float,
             synthetic: bool) -> dict:
    found = predictions(path)
    idx = np.fromiter(found.keys(), dtype=np.int64, count=len(found))
    pred = np.fromiter(found.values(), dtype=np.int64, count=len(found))
    correct = int((labels[idx] == pred).sum()) if len(idx) else 0
    top1 = correct / len(idx) if len(idx) else 0.0
    section = {
        "top1": top1,
        "correct": correct,
        "count": len(idx),
        "reference_top1": reference_top1,
        "threshold_top1": None if reference_top1 is None else reference_top1 * threshold,
        "threshold": threshold,
        "passed": None,
        "verdict": None,
        "synthetic": synthetic,
    }
    if not synthetic and reference_top1 is not None:
        section["passed"] = top1 >= section["threshold_top1"]
        section["verdict"] = "PASS" if section["passed"] else "FAIL"
    return section
