"""Reports over many runs: result records to one flat pandas DataFrame, results.csv, and a self-contained index.html.

The page inlines plotly's JavaScript (it opens offline, from a file), escapes every string it shows, and marks
INVALID and synthetic runs in the table, in every chart label and in the hover text.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

import scenarios
from bench import latency, results
from bench.cache import atomic_write
from bench.errors import UsageError

PERCENTILES = ("p50", "p90", "p95", "p97", "p99", "p99_9")
# The summary table's columns: DataFrame column -> heading.
SUMMARY = {
    "system": "system", "backend": "backend", "device": "device", "precision": "precision", "scenario": "scenario",
    "model": "model", "batch_size": "batch", "metric": "MLPerf metric", "metric_value": "value", "metric_unit": "unit",
    "samples_per_second": "samples/s", "validity": "LoadGen", "accuracy": "accuracy", "top1": "top-1",
    "data": "data", "avg_watts": "watts", "samples_per_second_per_watt": "samples/s/W",
    "latency_p50_ms": "p50 ms", "latency_p99_ms": "p99 ms", "status": "status", "run_id": "run",
}


def load_runs(paths) -> tuple[list[tuple[Path, dict]], list[str]]:
    """(run_dir, record) for every run found under `paths`, and one line per record that could not be read."""
    return results.load_records(paths, check=row)  # issue 18: total; a record row() cannot read is skipped


def _get(d, *keys):
    for key in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def row(run_dir: Path, record: dict) -> dict:
    """One run as flat columns (all scalars): what the CSV and the page show."""
    cfg, perf = record["config"], record.get("performance") or {}
    system, backend = record.get("system") or {}, record.get("backend") or {}
    acc, power = record.get("accuracy") or {}, record.get("power") or {}
    synthetic = bool(cfg.get("synthetic_weights") or cfg.get("synthetic_data") or acc.get("synthetic"))
    if not perf:
        validity = "no performance run"
    else:
        validity = "VALID" if perf.get("valid") else "INVALID"
    if not acc:
        accuracy = "not run"
    elif acc.get("synthetic") or synthetic:
        accuracy = "synthetic"
    else:
        accuracy = acc.get("verdict") or "no reference"
    flat = {
        "run_id": record["run_id"],
        "run_dir": str(run_dir),
        "status": record.get("status"),
        "started_at": record.get("started_at"),
        "system": str(system.get("system_name") or cfg.get("system_name") or "unknown"),
        "backend": cfg.get("backend"),
        "device": backend.get("device", cfg.get("device")),
        "precision": backend.get("precision", cfg.get("precision")),
        "scenario": cfg.get("scenario"),
        "model": _get(record, "model", "name") if cfg.get("onnx") else cfg.get("model"),  # the file's own name
        "batch_size": _get(record, "scenario", "batch_size") or cfg.get("batch_size"),  # the batch actually issued
        "threads": backend.get("threads", cfg.get("threads")),
        "profile": cfg.get("profile"),
        "synthetic": synthetic,
        "data": "synthetic" if synthetic else "real",
        **metric_columns(record),
        "samples_per_second": perf.get("samples_per_second"),
        "valid": perf.get("valid") if perf else None,
        "validity": validity,
        "invalid_reasons": "; ".join(perf.get("invalid_reasons") or []),
        "samples": perf.get("samples"),
        "duration_s": perf.get("duration_s"),
        "target_qps": perf.get("target_qps"),
        **{f"latency_{p}_ms": _get(perf, "latency_ms", p) for p in (*PERCENTILES, "mean", "min", "max")},
        "accuracy": accuracy,
        "top1": acc.get("top1"),
        "accuracy_count": acc.get("count"),
        "power_available": bool(power.get("available")),
        "power_source": power.get("source"),
        "avg_watts": power.get("avg_watts"),
        "max_watts": power.get("max_watts"),
        "energy_j": power.get("energy_j"),
        "joules_per_sample": power.get("joules_per_sample"),
        "samples_per_second_per_watt": power.get("samples_per_second_per_watt"),
        "cpu": system.get("cpu"),
        "cores": system.get("cores"),
        "memory_gb": system.get("memory_gb"),
        "gpus": "; ".join(str(g.get("name")) for g in system.get("gpus") or [] if isinstance(g, dict)),
        "os": system.get("os_name") or system.get("os"),
        "python": system.get("python"),
        "loadgen_version": perf.get("loadgen_version"),
        "error": record.get("error"),
    }
    flat["label"] = label(flat)
    return flat


def metric_columns(record: dict) -> dict:
    """The headline metric as the scenario defines it (schema-1 records: what they carried, named as such)."""
    metric = scenarios.headline(record) or {}
    better = metric.get("higher_is_better")
    return {"metric": metric.get("name"), "metric_value": metric.get("value"), "metric_unit": metric.get("unit"),
            "metric_better": None if better is None else ("higher" if better else "lower"),
            "metric_key": metric.get("key"), "schema": record.get("schema")}


def label(r: dict) -> str:
    """How a run is named in charts: unmistakably marked when INVALID or synthetic."""
    marks = [m for m, on in (("INVALID", r["validity"] == "INVALID"), ("synthetic", r["synthetic"]),
                             (str(r["status"]), r["status"] != "complete")) if on]
    return (f"{r['system']} · {r['backend']} {r['precision']} · {r['scenario']} · {r['run_id'][-4:]}"
            + (f" [{', '.join(marks)}]" if marks else ""))


def frame(runs: list[tuple[Path, dict]]) -> pd.DataFrame:
    df = pd.DataFrame([row(d, r) for d, r in runs])
    if len(df):
        df = df.sort_values(["scenario", "system", "backend", "precision", "started_at"], na_position="last",
                            kind="stable").reset_index(drop=True)
    return df


def write(paths, out: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """Find the runs, write <out>/results.csv and <out>/index.html; returns the frame and any unreadable records."""
    runs, problems = load_runs(paths)
    if not runs:
        raise UsageError(f"no readable result.json under {', '.join(map(str, paths))}: "
                         "give run directories or results trees written by `bench run`")
    df = frame(runs)
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create report directory {out}: {exc.strerror}. Choose another --out.")
    atomic_write(out / "results.csv", df.to_csv(index=False))
    atomic_write(out / "index.html", page(df, {str(d): r for d, r in runs}, problems))
    for name in ("results.csv", "index.html"):
        (out / name).chmod(0o644)  # reports are for sharing; atomic_write's temporary file is private
    return df, problems


# ---- the page --------------------------------------------------------------------------------------------------

def esc(value) -> str:
    return html.escape("" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value))


def chart_text(value) -> str:
    """Text inside a chart: plotly reads a few HTML tags in labels, so < > & become entities it shows as text."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"
    return str(value)


def summary_table(df: pd.DataFrame) -> str:
    head = "".join(f'<th data-col="{i}" title="click to sort">{esc(h)}</th>' for i, h in enumerate(SUMMARY.values()))
    body = []
    for _, r in df.iterrows():
        cells = []
        for col in SUMMARY:
            value = r[col]
            text = esc(_fmt(value))
            cls = ""
            if col == "validity":
                cls = {"VALID": "ok", "INVALID": "bad"}.get(value, "warn")
                title = esc(r["invalid_reasons"]) if value == "INVALID" else ""
                text = f'<span class="badge {cls}" title="{title}">{text}</span>'
            elif col == "accuracy":
                cls = {"PASS": "ok", "FAIL": "bad", "synthetic": "warn"}.get(value, "dim")
                text = f'<span class="badge {cls}">{text}</span>'
            elif col == "data" and r["synthetic"]:
                text = '<span class="badge warn">synthetic</span>'
            elif col == "status" and value != "complete":
                text = f'<span class="badge bad">{text}</span>'
            sort = value if isinstance(value, (int, float, np.integer, np.floating)) and not pd.isna(value) else ""
            name = ' class="name"' if col == "system" else ""  # long names wrap; numbers never break
            cells.append(f'<td{name} data-sort="{esc(sort)}">{text}</td>')
        classes = " ".join(c for c, on in (("invalid", r["validity"] == "INVALID"), ("synthetic", r["synthetic"]))
                           if on)
        body.append(f'<tr class="{classes}">{"".join(cells)}</tr>')
    return (f'<div class="wide"><table id="summary" class="sortable"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


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
            marks = [" ".join(m for m, on in (("INVALID", v == "INVALID"), ("synthetic", s)) if on)
                     for v, s in zip(runs["validity"], runs["synthetic"])]
            fig.add_bar(
                name=chart_text(f"{backend} {precision}"),
                x=[chart_text(s) for s in runs["system"]], y=runs["metric_value"],
                text=[chart_text(f"{v:,.2f} {m}".strip()) for v, m in zip(runs["metric_value"], marks)],
                textposition="outside",
                marker_pattern_shape=["/" if v == "INVALID" else "" for v in runs["validity"]],
                customdata=[chart_text(lbl) for lbl in runs["label"]],
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

    from bench.power import LABELS, read_csv

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


def systems_table(records: dict[str, dict]) -> str:
    systems: dict[str, dict] = {}
    for record in records.values():
        info = record.get("system") or {}
        systems.setdefault(str(info.get("system_name") or "unknown"), info)
    parts = []
    for name, info in sorted(systems.items()):
        rows = []
        for key, value in info.items():
            if isinstance(value, (dict, list)):
                value = json.dumps(value, sort_keys=True)
            rows.append(f"<tr><th>{esc(key)}</th><td>{esc(value)}</td></tr>")
        parts.append(f'<details open><summary>{esc(name)}</summary><table class="kv">{"".join(rows)}</table></details>')
    return "".join(parts)


STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.5em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px} td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left}
table.sortable th{cursor:pointer;background:#f4f4f4;position:sticky;top:0} table.sortable th:hover{background:#e6e6e6}
tr.invalid{background:#fde8e8} tr.synthetic td{font-style:italic}
.badge{padding:1px 6px;border-radius:8px;font-weight:600;font-style:normal}
.ok{background:#d6f5d6;color:#14601e} .bad{background:#f8caca;color:#8a1010} .warn{background:#fff0c2;color:#7a5a00}
.dim{color:#888} .note{color:#555;font-size:13px} table.kv th{width:14em;font-weight:600}
.problems{color:#8a1010} .wide{overflow-x:auto;max-width:100%} td{white-space:nowrap}
td.name{white-space:normal;min-width:8em;max-width:18em;overflow-wrap:anywhere}
"""

SORT_JS = """
document.querySelectorAll('table.sortable').forEach(function(table){
  table.querySelectorAll('th').forEach(function(th, col){
    th.addEventListener('click', function(){
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var asc = th.getAttribute('data-dir') !== 'asc';
      table.querySelectorAll('th').forEach(function(h){ h.removeAttribute('data-dir'); });
      th.setAttribute('data-dir', asc ? 'asc' : 'desc');
      function key(row){ var c = row.cells[col], s = c.getAttribute('data-sort');
        return s !== '' && s !== null && !isNaN(parseFloat(s)) ? parseFloat(s) : c.textContent.trim().toLowerCase(); }
      rows.sort(function(a, b){ var x = key(a), y = key(b);
        if (typeof x !== typeof y) { x = String(x); y = String(y); }
        return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1); });
      rows.forEach(function(r){ body.appendChild(r); });
    });
  });
});
"""


def page(df: pd.DataFrame, records: dict[str, dict], problems: list[str]) -> str:
    from plotly.offline import get_plotlyjs

    sections = [f"<h2>Summary</h2><p class='note'>{len(df)} runs on {df['system'].nunique()} systems. "
                "Rows shaded red are INVALID by LoadGen's rules; <i>italic</i> rows used synthetic weights or images "
                "(performance only: their accuracy means nothing). Click a heading to sort.</p>" + summary_table(df)]
    if problems:
        sections.append("<h2>Records that could not be read</h2><ul class='problems'>"
                        + "".join(f"<li>{esc(p)}</li>" for p in problems) + "</ul>")
    charts = metric_charts(df)
    if charts:
        sections.append("<h2>MLPerf metric by system and backend</h2><p class='note'>Each scenario's own metric, "
                        "as MLPerf's submission checker reads it from LoadGen's detail log.</p>" + "".join(charts))
    for title, chart in (("Latency percentiles", percentile_chart(df)),
                         ("Latency distribution", distribution_chart(df)),
                         ("Power", power_chart(df))):
        if chart:
            sections.append(f"<h2>{title}</h2>{chart}")
        elif title == "Power":
            sections.append("<h2>Power</h2><p class='note'>No run holds power samples (power.csv).</p>")
    sections.append("<h2>Systems</h2>" + systems_table(records))
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>bench report</title>"
            f"<style>{STYLE}</style><script>{get_plotlyjs()}</script></head><body>"
            f"<h1>bench report</h1>{''.join(sections)}<script>{SORT_JS}</script></body></html>\n")
