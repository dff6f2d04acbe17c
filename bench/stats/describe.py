"""One configuration's per-run headline figures summarised: centre, spread, and a stated 95% interval.

Two kinds of figure, two intervals:
- throughput-like (samples/s, queries/s: a mean over a run is what each run measures): a Student t interval of the
  mean of the runs, mean +- t(0.975, n-1) * s / sqrt(n);
- latency percentiles (p90, p99, early-stopping latencies: a tail of each run): a distribution-free order-statistic
  interval of the median of the runs, [x_(j), x_(n+1-j)] with the largest j whose binomial coverage is >= 95%.
  A tail figure is skewed from run to run (one slow run moves it far), so no normal interval of its mean is claimed.
  Below 6 runs no order-statistic interval reaches 95%: [min, max] is given with its true coverage (e.g. 93.8% at 5).

numpy and the standard library only (scipy is not a dependency of bench): t quantiles are computed below.
"""

from __future__ import annotations

import functools
import math
from statistics import NormalDist

import numpy as np

Z_95 = NormalDist().inv_cdf(0.975)
T_METHOD = "Student t interval of the mean, 95%"
ORDER_METHOD = "order-statistic interval of the median (distribution-free, binomial coverage)"


@functools.lru_cache(maxsize=1024)
def t975(df: float) -> float:
    """The two-sided 95% Student t quantile for df degrees of freedom (a Welch df may be fractional).

    scipy is no dependency of bench, so: the x where the t density integrated over [-x, x] reaches 0.95, by Simpson's
    rule on 2,000 intervals (the density is smooth there) and Newton's method; matches scipy.stats.t.ppf to 1e-6.
    """
    if not df >= 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    scale = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)

    def central(x: float) -> float:
        t = np.linspace(0.0, x, 2001)
        f = scale * (1 + t * t / df) ** (-(df + 1) / 2)
        h = x / 2000
        return 2 * h / 3 * (f[0] + f[-1] + 4 * f[1:-1:2].sum() + 2 * f[2:-1:2].sum())

    z = Z_95  # start: the Cornish-Fisher expansion in 1/df (already exact to 1e-5 from df 30)
    x = min(12.8, z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2))
    for _ in range(20):  # Newton: d/dx central(x) = 2 f(x); converges in a few steps, bounded anyway
        step = (central(x) - 0.95) / (2 * scale * (1 + x * x / df) ** (-(df + 1) / 2))
        x = min(13.0, max(z, x - step))
        if abs(step) < 1e-10:
            break
    return x


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
    half = t975(n - 1) * float(x.std(ddof=1)) / math.sqrt(n)
    return {**out, "ci95": [float(mean - half), float(mean + half)], "ci_method": T_METHOD, "ci_coverage": 0.95}
