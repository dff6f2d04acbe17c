"""Two configurations' figures compared: the ratio with its 95% interval, and a verdict that refuses to call noise a
difference.

Method (stated in every result): the ratio of geometric means, B / A, with a Welch t interval on the logarithms of
the per-run figures. Run-to-run noise in a rate or a latency is multiplicative (a slower machine state scales every
query), so logs make it additive and the two sides' spreads need not be equal (Welch). exp of the interval of the
difference of mean logs is the interval of the ratio. Few runs get the t quantile at Welch's degrees of freedom, so
the interval widens honestly instead of resampling a handful of points.

Verdict: 'faster' or 'slower' only when the whole interval lies on one side of 1 (for a figure where lower is
better, a ratio below 1 is faster); else 'not distinguishable from noise at N runs', with the runs per side that
would distinguish a difference of the observed size at 95% confidence and 80% power (two-sample normal
approximation, n = 2 (z_0.975 + z_0.8)^2 s^2 / d^2, s the pooled standard deviation of the logs, d the observed
difference of mean logs). One run on either side: 'single-run', a ratio and no verdict.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from bench.stats.describe import Z_95, t975

METHOD = "ratio of geometric means (B/A), Welch t interval on log figures, 95%"
Z_80 = NormalDist().inv_cdf(0.8)
MAX_RUNS_NEEDED = 10_000  # beyond this the difference is, for any practical purpose, noise


def _logs(values) -> np.ndarray:
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if (x <= 0).any():
        raise ValueError("a ratio needs positive figures (a rate or a latency); got a value <= 0")
    return np.log(x)


def runs_needed(pooled_sd: float, log_diff: float) -> int | None:
    """Runs per side to distinguish a difference of log_diff with 95% confidence and 80% power; None if none seen."""
    if log_diff == 0:
        return None
    if pooled_sd == 0:
        return 2
    n = 2 * (Z_95 + Z_80) ** 2 * pooled_sd**2 / log_diff**2
    return int(min(MAX_RUNS_NEEDED, max(2, math.ceil(n))))


def compare(a, b, higher_is_better: bool = True) -> dict:
    """B against A (A the baseline): ratio, 95% interval, verdict, and the runs that would settle it."""
    la, lb = _logs(a), _logs(b)
    na, nb = len(la), len(lb)
    out: dict = {"n_a": na, "n_b": nb, "method": METHOD, "higher_is_better": higher_is_better}
    if na == 0 or nb == 0:
        return {**out, "ratio": None, "ci95": None, "verdict": "no figures", "runs_needed": None}
    diff = float(lb.mean() - la.mean())
    out["ratio"] = math.exp(diff)
    out["ratio_of_means"] = float(np.exp(lb).mean() / np.exp(la).mean())
    if na < 2 or nb < 2:
        return {**out, "ci95": None, "verdict": "single-run", "runs_needed": None,
                "note": "one run on a side: no interval, so no verdict (run with --repeat N)"}
    va, vb = float(la.var(ddof=1)), float(lb.var(ddof=1))
    se2 = va / na + vb / nb
    if se2 == 0:  # no spread at all on either side: the interval is the point
        low = high = out["ratio"]
    else:
        df = se2**2 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1))
        half = t975(max(1.0, df)) * math.sqrt(se2)
        low, high = math.exp(diff - half), math.exp(diff + half)
        out["df"] = df
    out["ci95"] = [low, high]
    pooled = math.sqrt(((na - 1) * va + (nb - 1) * vb) / (na + nb - 2))
    if low > 1 or high < 1:
        better = (low > 1) == higher_is_better
        out.update(verdict="faster" if better else "slower", runs_needed=None)
    else:
        needed = runs_needed(pooled, diff)
        out.update(verdict=f"not distinguishable from noise at {min(na, nb)} runs", runs_needed=needed)
        if needed is not None and needed <= min(na, nb):
            needed = min(na, nb) + 1  # the approximation says these should do; the interval says not yet
            out["runs_needed"] = needed
    return out


def verdict_text(result: dict) -> str:
    """The verdict with what would settle it: 'not distinguishable from noise at 3 runs (~14 runs each would tell)'."""
    text = result["verdict"]
    if result.get("runs_needed"):
        more = ">" if result["runs_needed"] >= MAX_RUNS_NEEDED else "~"
        text += f" ({more}{result['runs_needed']} runs each would tell)"
    return text


def sentence(result: dict) -> str:
    """One line: 'x1.12 [1.03, 1.21] faster', '... not distinguishable from noise at 3 runs (about 14 would tell)'."""
    if result.get("ratio") is None:
        return result["verdict"]
    text = f"x{result['ratio']:.3f}"
    if result.get("ci95"):
        text += f" [{result['ci95'][0]:.3f}, {result['ci95'][1]:.3f}]"
    text += f" {result['verdict']}"
    if result["verdict"] == "single-run":
        text += " (no interval from one run)"
    elif result.get("runs_needed"):
        more = ">" if result["runs_needed"] >= MAX_RUNS_NEEDED else "about "
        text += f" ({more}{result['runs_needed']} runs each would tell a difference this size)"
    elif result["verdict"].startswith("not distinguishable"):
        text += " (no difference observed)"
    return text
