"""`--until-stable P`: like Triton perf_analyzer's stability criterion, over whole MLPerf runs.

Stable when each of the last `window` runs' headline figures lies within P% of their mean (perf_analyzer: the last
3 measurements within --stability-percentage of their average). The series stops when stable, or at its maximum
count, and says which: an unconverged series is reported as unstable and given no confident interval.
"""

from __future__ import annotations

import math

WINDOW = 3  # perf_analyzer's window, and the fewest runs a stability claim can rest on


def check(values, percent: float, window: int = WINDOW) -> dict:
    """{stable, window, percent, spread_percent}: spread_percent is the largest |x - mean| / mean of the window."""
    x = [v for v in values if v is not None and math.isfinite(v)]
    out = {"percent": percent, "window": window, "runs": len(x)}
    if len(x) < window:
        return {**out, "stable": False, "spread_percent": None}
    last = x[-window:]
    mean = sum(last) / window
    if mean == 0:
        return {**out, "stable": False, "spread_percent": None}
    spread = max(abs(v - mean) for v in last) / abs(mean) * 100
    return {**out, "stable": spread <= percent, "spread_percent": round(spread, 3)}
