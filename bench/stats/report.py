"""Terminal output of the statistics: a repeat series' summary, and `bench compare`'s verdicts table."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from bench.stats import describe, ratio

VERDICT_COLOUR = {"faster": "green", "slower": "red", "single-run": "yellow", "unstable": "yellow"}


def _num(value) -> str:
    if value is None:
        return "—"
    return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"


def print_summary(summary: dict, path, console) -> None:
    """A series: each figure's mean, median, spread, CV and interval; how it stopped; where the summary is."""
    table = Table(title=f"configuration {summary['config_id']}: {len(summary['runs'])} runs ({summary['stopped']})")
    for column in ("figure", "mean", "median", "min … max", "stdev", "CV", "95% interval"):
        table.add_column(column, overflow="fold")
    notes: dict[str, None] = {}
    for name, fig in summary["figures"].items():
        ci = fig.get("ci95")
        interval = f"{_num(ci[0])} … {_num(ci[1])}" if ci else "—"
        if fig.get("ci_method"):
            interval += " (t)" if fig["kind"] == "mean" else " (order)"
        if fig.get("note"):
            notes[fig["note"]] = None
        label = fig["name"] if name != "metric" else f"{fig['name']} (MLPerf)"
        table.add_row(escape(f"{label} ({fig['unit']})"), _num(fig["mean"]), _num(fig["median"]),
                      f"{_num(fig['min'])} … {_num(fig['max'])}", _num(fig["stdev"]),
                      "—" if fig.get("cv") is None else f"{100 * fig['cv']:.1f}%", interval)
    console.print(table)
    if (stable := summary.get("stability")) is not None:
        spread = stable.get("spread_percent")
        word = "[green]stable[/]" if stable["stable"] else "[bold yellow]unstable[/]"
        console.print(f"{word}: last {stable['window']} runs within {spread if spread is not None else '—'}% of "
                      f"their mean (criterion {stable['percent']}%)", highlight=False)
    startup = summary.get("startup") or {}
    names = {"load_s": "load", "compile_s": "of it compile", "warmup_s": "warm-up", "first_call_s": "of it first call"}
    said = [f"{word} {startup[k]['mean']:.2f} s" for k, word in names.items()
            if (startup.get(k) or {}).get("mean") is not None]
    if said:
        console.print(f"start-up per run, outside the figures (means): {', '.join(said)}", highlight=False)
    console.print(f"(t): {describe.T_METHOD}; (order): {describe.ORDER_METHOD}", highlight=False)
    for note in notes:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    console.print(f"summary: {escape(str(path))}", highlight=False)


def verdict_table(rows: list[dict], title: str) -> Table:
    """rows from bench/stats/verdicts.py: one per (scenario, figure, configuration) against its baseline A."""
    table = Table(title=title)
    for column in ("figure", "A", "B", "runs", "B/A", "95% interval", "verdict"):
        table.add_column(column, overflow="fold")
    for r in rows:
        result = r["result"]
        verdict = result["verdict"]
        colour = VERDICT_COLOUR.get(verdict.split(" ")[0], "dim")
        text = ratio.verdict_text(result)
        if r.get("unstable"):
            text += f": {r['unstable']}"
        ci = result.get("ci95")
        table.add_row(escape(r["figure"]), escape(r["a"]), escape(r["b"]), f"{result['n_a']}/{result['n_b']}",
                      "—" if result.get("ratio") is None else f"×{result['ratio']:.3f}",
                      f"{ci[0]:.3f} … {ci[1]:.3f}" if ci else "—", f"[{colour}]{escape(text)}[/]")
    return table
