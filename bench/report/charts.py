"""The report's plotly charts: each scenario's MLPerf metric, latency percentiles and distributions, power."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.report.table import PERCENTILES
from bench.run import latency


def chart_text(value) -> str:
    """Text inside a chart: plotly reads a few HTML tags in labels, so < > & become entities it shows as text."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _figure_html(fig, div_id: str) -> str:
    fig.update_layout(template="plotly_white", margin=dict(l=60, r=20, t=50, b=60), height=420,
                      legend=dict(font=dict(size=10)))
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False})


def metric_charts(df: pd.DataFrame) -> list[str]:
    """One bar chart per scenario of its own MLPerf metric (samples/s, or an early-stopping latency in ms), by
    system, one bar per backend and precision; INVALID hatched."""
    import plotly.graph_objects as go

    charts = []
    for (scenario, metric, unit, better), group in df[df["metric_value"].notna()].groupby(
            ["scenario", "metric", "metric_unit", "metric_better"], sort=True):
        fig = go.Figure()
        for (backend, precision), runs in group.groupby(["backend", "precision"], sort=True):
            single = runs["config_runs"] == 1 if "config_runs" in runs else [False] * len(runs)
            marks = [" ".join(m for m, on in (("INVALID", v == "INVALID"), ("synthetic", s), ("single-run", one))
                              if on) for v, s, one in zip(runs["validity"], runs["synthetic"], single)]
            gates = runs["accuracy_gate"] if "accuracy_gate" in runs else [None] * len(runs)
            fig.add_bar(
                name=chart_text(f"{backend} {precision}"),
                x=[chart_text(s) for s in runs["system"]], y=runs["metric_value"],
                text=[chart_text(f"{v:,.2f} {m}".strip()) for v, m in zip(runs["metric_value"], marks)],
                textposition="outside",
                marker_pattern_shape=["/" if v == "INVALID" else "" for v in runs["validity"]],
                customdata=[chart_text(lbl + ("" if g is None else f"; accuracy gate: {g}"))
                            for lbl, g in zip(runs["label"], gates)],
                hovertemplate=f"%{{customdata}}<br>%{{y:,.2f}} {chart_text(unit)}<extra></extra>")
        values = group["metric_value"][group["metric_value"] > 0]
        spread = len(values) and values.max() / values.min() > 30  # a CPU beside a GPU: log, or the CPU vanishes
        fig.update_layout(title=chart_text(f"{scenario}: {metric} ({unit}, {better} is better; hatched = INVALID)"
                                           + ("; log scale" if spread else "")),
                          barmode="group", yaxis_title=chart_text(unit), xaxis_title="system",
                          yaxis_type="log" if spread else "linear")
        charts.append(_figure_html(fig, f"metric-{scenario}"))
    return charts


def percentile_chart(df: pd.DataFrame) -> str | None:
    import plotly.graph_objects as go

    cols = [f"latency_{p}_ms" for p in PERCENTILES]
    have = df[df[cols].notna().any(axis=1)]
    if have.empty:
        return None
    fig = go.Figure()
    names = [p.replace("_", ".") for p in PERCENTILES]
    for _, r in have.iterrows():
        fig.add_scatter(x=names, y=[r[c] for c in cols], mode="lines+markers", name=chart_text(r["label"]),
                        line_dash="dot" if r["validity"] == "INVALID" or r["synthetic"] else "solid")
    fig.update_layout(title="LoadGen latency percentiles per run (ms, log scale; dotted = INVALID or synthetic)",
                      yaxis_type="log", yaxis_title="ms", xaxis_title="percentile")
    return _figure_html(fig, "latency-percentiles")


def distribution_chart(df: pd.DataFrame) -> str | None:
    """Each run's per-query latencies (latencies.npy) as a cumulative distribution, 1,000 quantiles per run."""
    import plotly.graph_objects as go

    fig = go.Figure()
    levels = np.linspace(0, 1, 1001)
    for _, r in df.iterrows():
        lat = latency.load(r["run_dir"])
        if lat is None or not len(lat):
            continue
        fig.add_scatter(x=np.quantile(lat, levels), y=levels * 100, mode="lines", name=chart_text(r["label"]),
                        line_dash="dot" if r["validity"] == "INVALID" or r["synthetic"] else "solid",
                        hovertemplate="%{x:.3f} ms at %{y:.1f}%<extra></extra>")
    if not fig.data:
        return None
    fig.update_layout(title=f"Per-query latency distribution (cumulative, {len(fig.data)} runs; log scale)",
                      xaxis_type="log", xaxis_title="latency ms", yaxis_title="% of queries at or below")
    return _figure_html(fig, "latency-distribution")


def power_chart(df: pd.DataFrame) -> str | None:
    import plotly.graph_objects as go

    from bench.run.power import LABELS, read_csv

    fig = go.Figure()
    for _, r in df.iterrows():
        power = read_csv(Path(r["run_dir"]) / "power.csv")  # the sampler's own reader: one series per channel
        for channel, rows in ([] if power is None else power.groupby("channel", sort=False)):
            name = f"{r['label']} · {channel} · {LABELS.get(rows['kind'].iloc[0], rows['kind'].iloc[0])}"
            fig.add_scatter(x=rows["t_s"], y=rows["watts"], mode="lines", name=chart_text(name))
    if not fig.data:
        return None
    fig.update_layout(title="Power over the run (power.csv): GPU board power (NVML) and CPU package power (RAPL), "
                            "per channel, never summed", xaxis_title="s", yaxis_title="W")
    return _figure_html(fig, "power")


