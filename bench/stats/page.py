"""`bench report`'s section on repeated runs: every run of each configuration drawn (a strip plot) with its 95%
interval, and the verdicts table with the accuracy record that gates each figure (bench/stats/verdicts.py).

Shown only when some record belongs to a repeat series; single runs keep the report's bars alone. Every run's row
(the summary table, results.csv) says how many runs its configuration has ("single-run" for one) and which
accuracy record gates it (annotate).
"""

from __future__ import annotations

import html

from bench.stats import describe, figures, ratio, verdicts


def _text(value) -> str:
    """Text inside a chart or the page: < > & as entities (plotly reads a few tags in labels)."""
    return html.escape("—" if value is None else str(value))


NO_ACCURACY = "no accuracy run"
SINGLE = "single-run"


def annotate(df, runs) -> list[dict]:
    """Add to the report's frame, per run: `config_runs` (measured runs of its configuration; 1: single-run) and
    `accuracy_gate` (the passing accuracy record of its model, weights, backend and precision, or why none).
    Returns the configurations (verdicts.groups), for section() over the same records."""
    by_dir = {str(d): r for d, r in runs}
    configs = verdicts.groups(sorted(runs, key=lambda item: str(item[0])), [])  # as section() orders them
    count = {id(r): len(c["records"]) for c in configs for r in c["records"]}
    table = verdicts.gates(runs)
    gates, sizes = [], []
    for run_dir in df["run_dir"]:
        record = by_dir.get(run_dir) or {}
        gate = table.get(figures.accuracy_identity(record), verdicts.NO_GATE)["text"] if record else "none"
        gates.append(NO_ACCURACY if gate == "none" else gate)
        sizes.append(count.get(id(record)))
    df["config_runs"] = sizes
    df["accuracy_gate"] = gates
    return configs


def _name(c: dict) -> str:
    """A configuration as the charts name it: one run is marked single-run."""
    return _text(c["id"] + ("" if c["key"][0] == "config" else f" ({SINGLE})"))


def _strip(scenario: str, configs: list[dict]) -> str:
    import plotly.graph_objects as go

    fig = go.Figure()
    unit = ""
    for c in configs:
        heads = [h[figures.METRIC] for h in map(figures.headline, c["records"]) if figures.METRIC in h]
        if not heads:
            continue
        values = [h["value"] for h in heads]
        unit, name = heads[0]["unit"], _name(c)
        fig.add_trace(go.Box(y=values, name=name, boxpoints="all", jitter=0.4, pointpos=0, fillcolor="rgba(0,0,0,0)",
                             line={"color": "rgba(0,0,0,0)"}, marker={"size": 7}, showlegend=False,
                             hovertemplate="%{y:,.4g}<extra>" + name + "</extra>"))
        stats = describe.describe(values, describe.kind_of(heads[0]["key"], unit))
        if stats["ci95"]:  # the centre the interval is of: the mean (t) or the median (order statistics)
            centre = stats["mean"] if stats["kind"] == "mean" else stats["median"]
            fig.add_trace(go.Scatter(x=[name], y=[centre], mode="markers", marker={"symbol": "diamond", "size": 11,
                                     "color": "black"}, showlegend=False, error_y={
                "type": "data", "symmetric": False, "array": [stats["ci95"][1] - centre],
                "arrayminus": [centre - stats["ci95"][0]]},
                hovertemplate=f"{'mean' if stats['kind'] == 'mean' else 'median'} %{{y:,.4g}}, 95% interval "
                f"{stats['ci95'][0]:,.4g} … {stats['ci95'][1]:,.4g}<extra>{name}</extra>"))
    fig.update_layout(title=_text(f"{scenario}: every run's MLPerf metric ({unit}); diamond and bar: centre and "
                                  "95% interval"), yaxis_title=_text(unit), xaxis_title="configuration",
                      template="plotly_white", height=420, margin={"l": 60, "r": 20, "t": 50, "b": 60})
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"repeats-{_text(scenario)}",
                       config={"displaylogo": False})


def section(records: dict[str, dict], configs: list[dict] | None = None) -> str | None:
    """The HTML section (or None without repeat series): strip plots per scenario, verdicts, configurations.
    `configs`: annotate()'s, when it grouped these very records."""
    found = sorted(records.items())
    if not any(figures.repeat(r) for _d, r in found):
        return None
    configs = verdicts.groups(found, []) if configs is None else configs
    intro = ("<h2>Repeated runs</h2><p class='note'>Every run of each configuration, with the 95% interval of "
             f"its centre ({_text(describe.T_METHOD)} for rates; {_text(describe.ORDER_METHOD)} for latencies). "
             "A record without repeats is a configuration of one run (single-run).</p>")
    parts = [intro]
    for scenario in dict.fromkeys(c["scenario"] for c in configs):
        parts.append(_strip(scenario, [c for c in configs if c["scenario"] == scenario]))
    rows = verdicts.rows(found, [], configs=configs)
    if rows:
        parts.append(f"<p class='note'>B against A, the first configuration of its scenario: "
                     f"{_text(ratio.METHOD)}.</p><table><thead><tr><th>figure</th><th>A</th><th>B</th><th>runs</th>"
                     "<th>B/A</th><th>95% interval</th><th>verdict</th><th>accuracy gate A</th>"
                     "<th>accuracy gate B</th></tr></thead><tbody>")
        for r in rows:
            res = r["result"]
            ci = res.get("ci95")
            badge = {"faster": "ok", "slower": "bad"}.get(res["verdict"], "warn")
            value = "—" if res.get("ratio") is None else f"×{res['ratio']:.3f}"
            interval = f"{ci[0]:.3f} … {ci[1]:.3f}" if ci else "—"
            verdict = ratio.verdict_text(res) + (f": {r['unstable']}" if r.get("unstable") else "")
            parts.append(f"<tr><td>{_text(r['figure'])}</td><td>{_text(r['a'])}</td><td>{_text(r['b'])}</td>"
                         f"<td>{res['n_a']}/{res['n_b']}</td><td>{value}</td><td>{interval}</td>"
                         f"<td><span class='badge {badge}'>{_text(verdict)}</span></td>"
                         + "".join(_gate(r[k]) for k in ("gate_a", "gate_b")) + "</tr>")
        parts.append("</tbody></table>")
    legend = []
    for line, gated in verdicts.legend(found, [], configs):
        ident, what = line.split(": ", 1)
        mark = "" if gated else "<span class='badge warn'>not gated</span> "
        legend.append(f"<tr><td>{_text(ident)}</td><td class='name'>{mark}{_text(what)}</td></tr>")
    parts.append("<table class='kv'><thead><tr><th>configuration</th><th>what, runs, accuracy gate</th></tr></thead>"
                 f"<tbody>{''.join(legend)}</tbody></table>")
    return "".join(parts)


def _gate(text: str) -> str:
    """A gate's cell: the passing record's id (green), else why none (marked)."""
    shown = NO_ACCURACY if text == "none" else text
    return f"<td><span class='badge {'ok' if shown.endswith(' PASS') else 'warn'}'>{_text(shown)}</span></td>"
