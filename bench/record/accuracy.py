"""Top-1 from LoadGen's mlperf_log_accuracy.json, the way MLPerf's accuracy-imagenet.py computes it.

Each response holds the predicted class as one float32 (any 1001-class background offset already
removed by the backend), so MLPerf's own script (`--dtype float32`, the default) reproduces our top-1.
Samples are de-duplicated by qsl_idx, as that script does. The verdict compares top-1 with the
model's reference top-1 times a threshold (MLPerf: 99%); synthetic weights or images get no verdict.

On a subset of the 50,000 validation images a plain comparison would call PASS or FAIL on noise: there the
verdict uses a 95% Wilson score interval of top-1, PASS only when the whole interval is at or above the
threshold, FAIL only when it is wholly below, INCONCLUSIVE otherwise. The full set keeps MLPerf's comparison.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from bench.cache import atomic_write
from bench.errors import RunFailed, UsageError
from bench.record import codec, schema

# ImageNet 2012 validation set: what MLPerf's accuracy run covers.
FULL_SET = 50_000
Z_95 = 1.959963984540054  # two-sided 95% normal quantile
TXT = "accuracy.txt"
# accuracy.txt as accuracy-imagenet.py words it, then (in a submission) the accuracy log's sha256 as MLPerf's run
# scripts append it. The checker reads the first line with ACC_PATTERN["acc"] and the `hash=` line.
TXT_LINE = re.compile(r"accuracy=(\d+\.\d{3})%, good=(\d+), total=(\d+)")
HASH_LINE = re.compile(r"hash=([0-9a-f]{64})")


def wilson_interval(correct: int, count: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion: sound near 0 and 1 and for small counts, unlike p +- z*se."""
    if count <= 0:
        return 0.0, 1.0
    p = correct / count
    denom = 1 + z * z / count
    centre = (p + z * z / (2 * count)) / denom
    half = z * math.sqrt(p * (1 - p) / count + z * z / (4 * count * count)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def verdict(correct: int, count: int, threshold_top1: float, full_set: int = FULL_SET) -> dict:
    """PASS/FAIL (full set: MLPerf's plain comparison) or PASS/FAIL/INCONCLUSIVE on a subset (Wilson 95%)."""
    if count >= full_set:
        passed = correct / count >= threshold_top1
        return {"subset": False, "verdict": "PASS" if passed else "FAIL", "passed": passed}
    low, high = wilson_interval(correct, count)
    if low >= threshold_top1:
        result = "PASS"
    elif high < threshold_top1:
        result = "FAIL"
    else:
        result = "INCONCLUSIVE"
    return {"subset": True, "verdict": result, "passed": {"PASS": True, "FAIL": False}.get(result)}


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
             synthetic: bool, full_set: int = FULL_SET) -> schema.Accuracy:
    """The record's accuracy section; also writes accuracy.txt beside the log, in MLPerf's wording.

    `full_set`: how many images the reference top-1 was measured on (ImageNet val: 50,000); fewer is a subset.
    """
    found = predictions(path)
    correct, count = top1(found, labels)
    if count != len(labels):
        missing = sorted(set(range(len(labels))) - set(found))[:10]
        raise RunFailed(f"LoadGen's accuracy log {path} answers {count} of {len(labels)} samples "
                        f"(missing qsl_idx {missing}...): the backend left samples unanswered")
    value = correct / count if count else 0.0
    low, high = wilson_interval(correct, count)
    section = schema.Accuracy(
        top1=value, correct=correct, count=count, subset=count < full_set, full_set_count=full_set,
        interval_95=[low, high], interval_method="Wilson score, 95%", reference_top1=reference_top1,
        threshold_top1=None if reference_top1 is None else reference_top1 * threshold, threshold=threshold,
        passed=None, verdict=None, synthetic=synthetic, response_dtype="float32", log=str(path))
    if not synthetic and reference_top1 is not None:
        assert section.threshold_top1 is not None
        judged = verdict(correct, count, section.threshold_top1, full_set)
        section.subset, section.verdict, section.passed = judged["subset"], judged["verdict"], judged["passed"]
        if section.verdict == "INCONCLUSIVE":
            section.note = (f"{count} of {full_set:,} images: the 95% interval straddles the threshold; only "
                            "more images (the full set decides) can say PASS or FAIL")
    elif synthetic:
        section.note = "synthetic weights or images: top-1 means nothing, so no PASS or FAIL"
    else:
        section.note = "no reference top-1 for these weights (not a known model's file): no PASS or FAIL"
    atomic_write(Path(path).with_name(TXT), accuracy_txt(correct, count))
    return section


def accuracy_txt(correct: int, count: int, log_sha256: str | None = None) -> str:
    """accuracy.txt's text; a submission passes the accuracy log's sha256 for the checker's `hash=` line."""
    text = f"accuracy={100 * (correct / count if count else 0.0):.3f}%, good={correct}, total={count}\n"
    return text + (f"hash={log_sha256}\n" if log_sha256 else "")


def read_accuracy_txt(path: str | Path) -> dict:
    """accuracy.txt back: {accuracy_percent, correct, count, log_sha256 (None without a hash line)}."""
    path = Path(path)
    try:
        lines = codec.read_bounded(path, 4096).decode().splitlines()  # two short lines; never a FIFO or /dev/zero
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}")
    first = TXT_LINE.fullmatch(lines[0]) if lines else None
    hashed = [HASH_LINE.fullmatch(line) for line in lines[1:]]
    if not first or len(lines) > 2 or not all(hashed):
        raise UsageError(f"{path} is not an accuracy.txt written by bench (line 1 'accuracy=P%, good=N, total=M', "
                         "then optionally 'hash=<sha256>'): rerun `bench run --mode accuracy`")
    return {"accuracy_percent": float(first[1]), "correct": int(first[2]), "count": int(first[3]),
            "log_sha256": hashed[0][1] if hashed else None}
