"""The self-contained index.html and results.csv: plotly inlined (the page opens offline), every string escaped,
INVALID and synthetic runs marked in the table, in every chart label and in the hover text."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from bench.cache import atomic_write
from bench.errors import UsageError
from bench.record import codec
from bench.report.charts import (
    distribution_chart,
    metric_charts,
    percentile_chart,
    power_chart,
)
from bench.report.columns import SUMMARY, Column
from bench.report.table import frame, frame_of, load_runs

# Per-run charts (percentile lines, latency distributions, power) draw at most this many runs, the latest: beyond,
# a chart of thousands of lines says nothing and takes minutes to build; results.csv holds every run.
PER_RUN_CHARTS = 100


def write(paths, out: str | Path, indexed: tuple | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Find the runs, write <out>/results.csv and <out>/index.html; returns the frame and any unreadable records.

    `indexed`: the runs as the results index gave them (bench/index/records.py's load_report: runs, report rows,
    problems) instead of reading every result.json; only the Systems section opens files, one per system."""
    use_index = indexed is not None
    if use_index:
        runs, flat, problems = indexed
        df = frame_of(flat)
    else:
        runs, problems = load_runs(paths)
        df = frame(runs)
    if not runs:
        raise UsageError(f"no readable result.json under {', '.join(map(str, paths))}: "
                         "give run directories or results trees written by `bench run`")
    from bench.stats import page as repeats_page

    configs = repeats_page.annotate(df, runs)  # runs of each one's configuration, the accuracy record that gates it
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create report directory {out}: {exc.strerror}. Choose another --out.")
    atomic_write(out / "results.csv", df.to_csv(index=False))  # the data as recorded: a CSV field carries "\n"
    if use_index:  # the page: no control characters in shown text
        shown_df, shown = frame_of([{k: codec.clean(v) if isinstance(v, str) and k != "run_dir" else v
                                     for k, v in r.items()} for r in flat]), runs
    else:
        shown = [(d, codec.clean(r)) for d, r in runs]
        shown_df = frame(shown)
    for name in EXTRA:  # computed once over the runs, found again by run directory
        shown_df[name] = shown_df["run_dir"].map(dict(zip(df["run_dir"], df[name])))
    atomic_write(out / "index.html", page(shown_df, {str(d): r for d, r in shown}, problems, use_index,
                                          configs if use_index else None))  # the index's records are the page's
    for name in ("results.csv", "index.html"):
        (out / name).chmod(0o644)  # reports are for sharing; atomic_write's temporary file is private
    return df, problems


def esc(value) -> str:
    return html.escape("" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value))


def _fmt(value, column: Column | None = None) -> str:
    """A cell as its column's format says (bench/report/columns.py); numbers: 3 decimals below 100, else 1."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)) or (column is not None and column.format == "yes/no"):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"
    return str(value)


# Columns of a run that depend on the other runs (bench/stats/page.py annotate): last in results.csv and the table.
EXTRA = {"config_runs": "runs of its configuration", "accuracy_gate": "accuracy gate"}


def _extra_cell(name: str, value) -> str:
    if name == "config_runs":
        text = "" if value is None or pd.isna(value) else ("1 (single-run)" if value == 1 else f"{int(value)}")
        return f'<td data-sort="{esc("" if not text else int(value))}">{esc(text)}</td>'
    badge = "ok" if str(value).endswith(" PASS") else "warn"
    return f'<td class="name" data-sort=""><span class="badge {badge}">{esc(value)}</span></td>'


def _cell(column: Column, value, extra) -> str:
    """One summary cell; `extra`: the INVALID reasons of the validity cell, the synthetic flag of the data cell."""
    col = column.name
    text = esc(_fmt(value, column))
    if col == "validity":
        cls = {"VALID": "ok", "INVALID": "bad"}.get(value, "warn")
        title = esc(extra) if value == "INVALID" else ""
        text = f'<span class="badge {cls}" title="{title}">{text}</span>'
    elif col == "accuracy":
        cls = {"PASS": "ok", "FAIL": "bad", "synthetic": "warn"}.get(value, "dim")
        text = f'<span class="badge {cls}">{text}</span>'
    elif col == "data" and extra:
        text = '<span class="badge warn">synthetic</span>'
    elif col == "status" and value != "complete":
        text = f'<span class="badge bad">{text}</span>'
    sort = value if isinstance(value, (int, float, np.integer, np.floating)) and not pd.isna(value) else ""
    name = ' class="name"' if col == "system" else ""  # long names wrap; numbers never break
    return f'<td{name} data-sort="{esc(sort)}">{text}</td>'


def summary_table(df: pd.DataFrame) -> str:
    names = [esc(c.heading) for c in SUMMARY] + [esc(h) for h in EXTRA.values()]
    head = "".join(f'<th data-col="{i}" title="click to sort">{h}</th>' for i, h in enumerate(names))
    body = []
    used = list(dict.fromkeys([c.name for c in SUMMARY] + ["validity", "invalid_reasons", "synthetic", "status",
                                                           *EXTRA]))
    cache: dict[tuple, str] = {}  # a text cell repeats (backend, scenario, status...): built once, over 10,000 runs
    for r in df[used].to_dict("records"):  # plain dicts: iterrows builds a Series a row, 5x slower over 10,000 runs
        cells = []
        for column in SUMMARY:
            value = r[column.name]
            extra = r["invalid_reasons"] if column.name == "validity" else r["synthetic"] if column.name == "data" \
                else None
            if isinstance(value, float):  # numbers: each its own (and NaN is never a key twice)
                cells.append(_cell(column, value, extra))
                continue
            key = (column.name, value, extra)
            if (cell := cache.get(key)) is None:
                cell = cache[key] = _cell(column, value, extra)
            cells.append(cell)
        cells += [_extra_cell(name, r[name]) for name in EXTRA]
        classes = " ".join(c for c, on in (("invalid", r["validity"] == "INVALID"), ("synthetic", r["synthetic"]))
                           if on)
        body.append(f'<tr class="{classes}">{"".join(cells)}</tr>')
    return (f'<div class="wide"><table id="summary" class="sortable"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def systems_table(records: dict[str, dict], partial: bool = False) -> str:
    """Each system's section; `partial` (records from the index): read from one file per system."""
    systems: dict[str, dict] = {}
    for run_dir, record in records.items():
        info = record.get("system") or {}
        name = str(info.get("system_name") or "unknown")
        if name not in systems and partial:
            from bench.record import results

            try:
                info = results.load(run_dir).get("system") or info
            except UsageError:
                pass  # changed since the index read it: the name alone
        systems.setdefault(name, info)
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


def page(df: pd.DataFrame, records: dict[str, dict], problems: list[str], partial: bool = False,
         configs: list[dict] | None = None) -> str:
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
    # issue 27: every run of a repeat series, the intervals, the verdicts and accuracy gates (bench/stats/page.py)
    from bench.stats import page as repeats_page

    if (repeated := repeats_page.section(records, configs)) is not None:
        sections.append(repeated)
    per_run = df
    if len(df) > PER_RUN_CHARTS:
        per_run = df.sort_values("started_at", na_position="first", kind="stable").tail(PER_RUN_CHARTS)
        sections.append(f"<p class='note'>Per-run charts below (latency percentiles, distributions, power): the "
                        f"latest {PER_RUN_CHARTS} of {len(df)} runs; the summary table and results.csv hold every "
                        "run.</p>")
    for title, chart in (("Latency percentiles", percentile_chart(per_run)),
                         ("Latency distribution", distribution_chart(per_run)),
                         ("Power", power_chart(per_run))):
        if chart:
            sections.append(f"<h2>{title}</h2>{chart}")
        elif title == "Power":
            sections.append("<h2>Power</h2><p class='note'>No run holds power samples (power.csv).</p>")
    sections.append("<h2>Systems</h2>" + systems_table(records, partial))
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>bench report</title>"
            f"<style>{STYLE}</style><script>{get_plotlyjs()}</script></head><body>"
            f"<h1>bench report</h1>{''.join(sections)}<script>{SORT_JS}</script></body></html>\n")
