"""One configuration's per-run headline figures summarised: centre, spread, and a stated 95% interval.

Two kinds of figure, two intervals:
- throughput-like (samples/s, queries/s: a mean over a run is what each run measures): a Student t interval of the
  mean of the runs, mean +- t(0.975, n-1) * s / sqrt(n);
- latency percentiles (p90, p99, early-stopping latencies: a tail of each run): a distribution-free order-statistic
  interval of the median of the runs, [x_(j), x_(n+1-j)] with the largest j whose binomial coverage is >= 95%.
  A tail figure is skewed from run to run (one slow run moves it far), so no normal interval of its mean is claimed.
  Below 6 runs no order-statistic interval reaches 95%: [min, max] is given with its true coverage (e.g. 93.8% at 5).

numpy and the standard library only (scipy is not a dependency of bench): the t quantiles are tabulated below.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

Z_95 = NormalDist().inv_cdf(0.975)
# t(0.975, df) for df = 1..30 (scipy.stats.t.ppf, checked by tests/test_stats.py when scipy is present).
_T975 = (12.7062, 4.30265, 3.18245, 2.77645, 2.57058, 2.44691, 2.36462, 2.306, 2.26216, 2.22814, 2.20099, 2.17881,
         2.16037, 2.14479, 2.13145, 2.11991, 2.10982, 2.10092, 2.09302, 2.08596, 2.07961, 2.07387, 2.06866, 2.0639,
         2.05954, 2.05553, 2.05183, 2.04841, 2.04523, 2.04227)
T_METHOD = "Student t interval of the mean, 95%"
ORDER_METHOD = "order-statistic interval of the median (distribution-free, binomial coverage)"


def t975(df: float) -> float:
    """The two-sided 95% Student t quantile for df degrees of freedom (a Welch df may be fractional).

    Tabulated to df 30 (linear in 1/df between entries, the usual interpolation; error < 1e-3); above 30 the
    Cornish-Fisher expansion in 1/df, accurate to 1e-5 there.
    """
    if not df >= 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df <= 30:
        low = math.floor(df)
        if low == df or low == 30:
            return _T975[low - 1]
        a, b = _T975[low - 1], _T975[low]
        w = (1 / low - 1 / df) / (1 / low - 1 / (low + 1))
        return a + w * (b - a)
    z = Z_95
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))


def kind_of(metric_key: str | None, unit: str | None) -> str:
    """'percentile' for a latency figure (ms), else 'mean' (samples/s, queries/s, streams...)."""
    if unit == "ms" or "latency" in (metric_key or ""):
        return "percentile"
    return "mean"


def order_interval(values: np.ndarray) -> tuple[float, float, float]:
    """(low, high, coverage): the order-statistic interval of the median with the largest j covering >= 95%."""
    x = np.sort(values)
    n = len(x)
    best = (float(x[0]), float(x[-1]), 1 - 2 * 0.5**n)  # j = 1: [min, max]
    for j in range(2, n // 2 + 1):
        # coverage of [x_(j), x_(n+1-j)] = 1 - 2 P(Binomial(n, 1/2) <= j - 1)
        coverage = 1 - 2 * sum(math.comb(n, i) for i in range(j)) / 2**n
        if coverage < 0.95:
            break
        best = (float(x[j - 1]), float(x[n - j]), coverage)
    return best


def describe(values, kind: str = "mean") -> dict:
    """Centre, spread and 95% interval of per-run figures; `kind`: 'mean' (t interval) or 'percentile'."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = len(x)
    out: dict = {"n": n, "kind": kind}
    if n == 0:
        return {**out, "mean": None, "median": None, "min": None, "max": None, "stdev": None, "cv": None,
                "ci95": None, "ci_method": None, "ci_coverage": None, "note": "no figures"}
    mean = float(x.mean())
    stdev = float(x.std(ddof=1)) if n > 1 else None
    out.update(mean=mean, median=float(np.median(x)), min=float(x.min()), max=float(x.max()), stdev=stdev,
               cv=(stdev / mean if stdev is not None and mean else None))
    if n < 2:
        return {**out, "ci95": None, "ci_method": None, "ci_coverage": None,
                "note": "single-run: no interval from one run"}
    if kind == "percentile":
        low, high, coverage = order_interval(x)
        out.update(ci95=[low, high], ci_method=ORDER_METHOD, ci_coverage=round(coverage, 4))
        if coverage < 0.95:
            out["note"] = f"{n} runs: [min, max] covers the median with {100 * coverage:.1f}% only (6 runs reach 95%)"
        return out
    half = t975(n - 1) * stdev / math.sqrt(n)
    return {**out, "ci95": [mean - half, mean + half], "ci_method": T_METHOD, "ci_coverage": 0.95}
