"""`bench history`: one configuration's headline figure over time and software versions, regressions flagged.

A run is flagged when its figure lies outside the 95% prediction interval of the earlier runs of its configuration
(mean +- t(0.975, n-1) * s * sqrt(1 + 1/n): where one more run of an unchanged system falls 95% of the time), on the
worse side ('regression') or the better ('improvement'). At least MIN_EARLIER earlier runs are needed for a flag: the
interval of two runs says little. At 95%, about 1 run in 20 of an unchanged system is flagged by chance.
"""

from __future__ import annotations

import html
import math
import statistics

from bench.index import store
from bench.stats import describe, figures

METRICS = (figures.METRIC, *(name for name, *_ in figures.FIGURES))
MIN_EARLIER = 3


def series(con, metric: str, config: str | None) -> dict[str, list[dict]]:
    """config id -> its complete runs with the figure, oldest first."""
    if metric not in METRICS:  # a column name: only the listed ones reach the SQL
        raise ValueError(metric)
    sql = (f"SELECT run_id, path, started_at, config_id, system, backend, precision, scenario, model, bench_version, "
           f"backend_version, driver, metric_name, metric_unit, higher_is_better, {metric} AS value FROM runs "
           f"WHERE status = 'complete' AND {metric} IS NOT NULL")
    args: tuple = ()
    if config:
        sql += " AND config_id LIKE ?"
        args = (config.replace("%", "") + "%",)
    out: dict[str, list[dict]] = {}
    for r in store.query(con, sql + " ORDER BY config_id, started_at, run_id", args):
        out.setdefault(r["config_id"], []).append(r)
    return out


def higher_better(metric: str, first: dict) -> bool:
    if metric == figures.METRIC:
        return bool(first["higher_is_better"])
    return next(h for name, _p, _u, h in figures.FIGURES if name == metric)


def flag(runs: list[dict], higher: bool) -> list[dict]:
    """Each run with `interval` (the earlier runs' prediction interval) and `flag` (regression, improvement, '')."""
    out = []
    for i, run in enumerate(runs):
        earlier = [r["value"] for r in runs[:i]]
        interval, mark = None, ""
        if len(earlier) >= MIN_EARLIER:
            n, mean, sd = len(earlier), statistics.fmean(earlier), statistics.stdev(earlier)
            half = describe.t975(n - 1) * sd * math.sqrt(1 + 1 / n)
            interval = (mean - half, mean + half)
            if not interval[0] <= run["value"] <= interval[1]:
                worse = run["value"] < interval[0] if higher else run["value"] > interval[1]
                mark = "regression" if worse else "improvement"
        out.append({**run, "interval": interval, "flag": mark})
    return out


def version_text(run: dict) -> str:
    return f"bench {run['bench_version'] or '?'}, {run['backend']} {run['backend_version'] or '?'}" + (
        f", driver {run['driver']}" if run["driver"] else "")


def html_page(metric: str, by_config: dict[str, list[dict]]) -> str:
    """A self-contained page (plotly inlined): per configuration, the figure over time, coloured by software
    versions, the earlier runs' interval as a band, regressions marked."""
    import plotly.graph_objects as go
    from plotly.offline import get_plotlyjs

    parts = []
    for cid, runs in by_config.items():
        fig = go.Figure()
        for versions in dict.fromkeys(version_text(r) for r in runs):
            mine = [r for r in runs if version_text(r) == versions]
            fig.add_trace(go.Scatter(x=[r["started_at"] for r in mine], y=[r["value"] for r in mine], mode="markers",
                                     name=html.escape(versions), text=[html.escape(r["run_id"]) for r in mine]))
        banded = [r for r in runs if r["interval"]]
        if banded:
            fig.add_trace(go.Scatter(x=[r["started_at"] for r in banded], y=[r["interval"][1] for r in banded],
                                     mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip"))
            fig.add_trace(go.Scatter(x=[r["started_at"] for r in banded], y=[r["interval"][0] for r in banded],
                                     mode="lines", line={"width": 0}, fill="tonexty", fillcolor="rgba(0,0,200,0.12)",
                                     name="95% interval of the earlier runs", hoverinfo="skip"))
        flagged = [r for r in runs if r["flag"]]
        if flagged:
            fig.add_trace(go.Scatter(x=[r["started_at"] for r in flagged], y=[r["value"] for r in flagged],
                                     mode="markers", marker={"symbol": "x", "size": 14, "color": "red"},
                                     name="outside the interval", text=[r["flag"] for r in flagged]))
        first = runs[0]
        unit = first["metric_unit"] if metric == figures.METRIC else next(
            u for name, _p, u, _h in figures.FIGURES if name == metric)
        title = f"{cid}: {first['system']} {first['backend']}/{first['precision']} {first['scenario']} {first['model']}"
        fig.update_layout(title=html.escape(title), xaxis_title="started", yaxis_title=html.escape(
            f"{first['metric_name'] if metric == figures.METRIC else metric} ({unit})"), template="plotly_white",
            height=420)
        parts.append(fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}))
    body = "".join(parts) or "<p>no runs with this figure</p>"
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>bench history: {html.escape(metric)}</title>"
            f"<script>{get_plotlyjs()}</script></head><body><h1>bench history: {html.escape(metric)}</h1>"
            "<p>A run outside the 95% prediction interval of the earlier runs of its configuration is marked "
            "(regression on the worse side).</p>" + body + "</body></html>")
