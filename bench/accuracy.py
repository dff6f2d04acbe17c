"""Top-1 from LoadGen's mlperf_log_accuracy.json, the way MLPerf's accuracy-imagenet.py computes it.

Each response holds the predicted class as one float32 (any 1001-class background offset already
removed by the backend), so MLPerf's own script (`--dtype float32`, the default) reproduces our top-1.
Samples are de-duplicated by qsl_idx, as that script does. The verdict compares top-1 with the
model's reference top-1 times a threshold (MLPerf: 99%); synthetic weights or images get no verdict.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench.cache import atomic_write
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
            continue  # an empty response is an unanswered sample (a backend error): counted as missing
        found[idx] = int(np.frombuffer(bytes.fromhex(entry["data"][:8]), dtype=np.float32)[0])
    return found


def top1(predicted: dict[int, int], labels: np.ndarray) -> tuple[int, int]:
    """(correct, count) over the samples in `predicted`."""
    idx = np.fromiter(predicted.keys(), dtype=np.int64, count=len(predicted))
    pred = np.fromiter(predicted.values(), dtype=np.int64, count=len(predicted))
    if len(idx) and (idx.max() >= len(labels) or idx.min() < 0):
        raise RunFailed(f"LoadGen's accuracy log names sample {int(idx.max())}, beyond the {len(labels)} labels")
    return (int((labels[idx] == pred).sum()) if len(idx) else 0), len(idx)


def evaluate(path: str | Path, labels: np.ndarray, reference_top1: float | None, threshold: float,
             synthetic: bool) -> dict:
    """The record's accuracy section; also writes accuracy.txt beside the log, in MLPerf's wording."""
    found = predictions(path)
    correct, count = top1(found, labels)
    if count != len(labels):
        missing = sorted(set(range(len(labels))) - set(found))[:10]
        raise RunFailed(f"LoadGen's accuracy log {path} answers {count} of {len(labels)} samples "
                        f"(missing qsl_idx {missing}...): the backend left samples unanswered")
    value = correct / count if count else 0.0
    section = {
        "top1": value,
        "correct": correct,
        "count": count,
        "reference_top1": reference_top1,
        "threshold_top1": None if reference_top1 is None else reference_top1 * threshold,
        "threshold": threshold,
        "passed": None,
        "verdict": None,
        "synthetic": synthetic,
        "response_dtype": "float32",
        "log": str(path),
    }
    if not synthetic and reference_top1 is not None:
        section["passed"] = bool(value >= section["threshold_top1"])
        section["verdict"] = "PASS" if section["passed"] else "FAIL"
    elif synthetic:
        section["note"] = "synthetic weights or images: top-1 means nothing, so no PASS or FAIL"
    else:
        section["note"] = "no reference top-1 for these weights (not a known model's file): no PASS or FAIL"
    atomic_write(Path(path).with_name("accuracy.txt"),
                 f"accuracy={100 * value:.3f}%, good={correct}, total={count}\n")
    return section
