"""`bench compare`: runs (or groups of runs) side by side in the terminal, with ratios against the first."""

from __future__ import annotations

import click
import pandas as pd

from bench.report.columns import COMPARE_RATIO, COMPARE_TEXT

# Rows of the table below the MLPerf metric: (DataFrame column, heading, higher is better?), as declared in
# bench/report/columns.py, and the rows above it, shown as text.
METRICS = [(c.name, c.heading, c.better == "higher") for c in COMPARE_RATIO]
TEXT = [c.name for c in COMPARE_TEXT]


def _num(value) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"


def _ratio(value, base, higher_better) -> str:
    if value is None or base is None or pd.isna(value) or pd.isna(base) or base == 0:
        return ""
    r = value / base
    if higher_better is None or abs(r - 1) < 0.005:
        colour = "dim"
    else:
        colour = "green" if (r > 1) == higher_better else "red"
    return f" [{colour}]×{r:.2f}[/]"


def columns(df: pd.DataFrame, by: str | None) -> list[tuple[str, pd.DataFrame]]:
    """(heading, runs) per column: each run alone, or each group of `by` per scenario (first-seen order)."""
    if by is None:
        return [(r["label"], df.loc[[i]]) for i, r in df.iterrows()]
    keys = list(dict.fromkeys(df[by]))
    return [(f"{by}: {key}", df[df[by] == key]) for key in keys]


@click.command("compare")
@click.argument("runs", nargs=-1, required=True, type=click.Path())
@click.option("--by", type=click.Choice(["system", "backend", "precision"]),
              help="One column per system, backend or precision (medians of its runs, per scenario).")
@click.option("--require-accuracy", is_flag=True,
              help="Refuse to rank configurations without a passing accuracy run of the same model, weights, "
              "backend and precision among the records given.")
@click.option("--index", "use_index", is_flag=True,
              help="Read each results tree's index (.bench-index.sqlite, refreshed from the files) instead of every "
              "result.json: the verdicts and accuracy gates only, fast over thousands of runs.")
def compare_cmd(runs, by, require_accuracy, use_index):
    """Compare RUNS (run directories or results trees) side by side; ratios are against the first column."""
    from rich.markup import escape
    from rich.table import Table

    from bench import report
    from bench.console import err, out
    from bench.errors import UsageError
    from bench.record import results

    if use_index:
        if by is not None:
            raise UsageError("--by draws the per-run table, which reads every file; --index gives the verdicts only: "
                             "drop one of them")
        return _from_index(runs, require_accuracy)
    found, problems = results.load_records(runs, check=report.row)  # issue 18: skips bad records, names each
    for line in problems:
        err.print(f"[yellow]skipped:[/] {escape(line)}", highlight=False)
    if not found:
        raise UsageError(f"no readable result.json under {', '.join(runs)}: give run directories or results trees")
    from bench.stats import verdicts

    verdict_rows = verdicts.rows(found, runs, require_accuracy)  # --require-accuracy refuses here, before ranking
    # Keep the order the user gave: the first path's runs are the baseline.
    order = {str(d): i for i, (d, _) in enumerate(found)}
    df = report.frame(found)
    df = df.iloc[sorted(range(len(df)), key=lambda i: order[df["run_dir"].iloc[i]])].reset_index(drop=True)
    cols = columns(df, by)
    table = Table(title="bench compare" + (f" by {by}" if by else "") + " (×: ratio to the first column of the same scenario)")
    table.add_column("")
    for heading, _ in cols:
        table.add_column(escape(heading), overflow="fold")
    if by is None:
        for field in TEXT:
            table.add_row(field, *(_cell_text(field, runs[field].iloc[0]) for _, runs in cols))
        base = cols[0][1].iloc[0]
        # Each run's own MLPerf metric, named with its unit; a ratio only against a run of the same metric.
        table.add_row("MLPerf metric", *(_cell_text("metric", _metric_name(r.iloc[0])) for _, r in cols))
        table.add_row("value", *(_metric_cell(r.iloc[0]) + (
            _ratio(r["metric_value"].iloc[0], base["metric_value"], r["metric_better"].iloc[0] == "higher")
            if i and r["metric_key"].iloc[0] == base["metric_key"] else "") for i, (_, r) in enumerate(cols)))
        for field, heading, better in METRICS:
            # A ratio across scenarios means nothing (samples/s of Offline vs SingleStream): same scenario only.
            table.add_row(heading, *(_num(r[field].iloc[0]) + (
                _ratio(r[field].iloc[0], base[field], better) if i and r["scenario"].iloc[0] == base["scenario"] else "")
                for i, (_, r) in enumerate(cols)))
    else:
        for scenario in sorted(df["scenario"].dropna().unique()):
            table.add_section()
            table.add_row(f"[bold]{escape(scenario)}[/]", *("runs: " + _runs_note(r[r["scenario"] == scenario])
                                                           for _, r in cols))
            # The baseline of a scenario: the first column that ran it.
            first = next(i for i, (_, r) in enumerate(cols) if (r["scenario"] == scenario).any())
            # Each metric of the scenario (schema-1 records may carry another than MLPerf's): its own row.
            here = df[df["scenario"] == scenario]
            for key in dict.fromkeys(here["metric_key"].dropna()):
                one = here[here["metric_key"] == key].iloc[0]
                values = [r.loc[(r["scenario"] == scenario) & (r["metric_key"] == key), "metric_value"].median()
                          for _, r in cols]
                higher = one["metric_better"] == "higher"
                table.add_row(f"  {escape(_metric_name(one))}", *(
                    _num(v) + (_ratio(v, values[first], higher) if i > first else "") for i, v in enumerate(values)))
            for field, heading, better in METRICS:
                values = [r.loc[r["scenario"] == scenario, field].median() for _, r in cols]
                table.add_row(f"  {heading}", *(_num(v) + (_ratio(v, values[first], better) if i > first else "")
                                                for i, v in enumerate(values)))
    out.print(table)
    _print_verdicts(verdict_rows, found, runs, "verdicts")
    if (df["validity"] == "INVALID").any() or df["synthetic"].any():
        out.print("[red]INVALID[/] runs broke LoadGen's rules; [yellow]synthetic[/] runs measure speed only.")


def _from_index(runs, require_accuracy) -> None:
    """--index: the verdicts and accuracy gates from each tree's index; the per-run table needs every file."""
    from rich.markup import escape

    from bench.console import err
    from bench.errors import UsageError
    from bench.index import records
    from bench.stats import verdicts

    found, problems = records.load(runs, err)
    for line in problems:
        err.print(f"[yellow]skipped:[/] {escape(line)}", highlight=False)
    if not found:
        raise UsageError(f"no readable result.json under {', '.join(runs)}: give results trees")
    verdict_rows = verdicts.rows(found, runs, require_accuracy)
    _print_verdicts(verdict_rows, found, runs, "verdicts (from the index)")


def _print_verdicts(verdict_rows, found, runs, title: str) -> None:
    """The verdicts table (B against A), its method, and which accuracy record gates each configuration."""
    from rich.markup import escape

    from bench.console import out
    from bench.stats import report as stats_report
    from bench.stats import verdicts

    if verdict_rows:
        out.print(stats_report.verdict_table(verdict_rows, f"{title}: B against A, the first configuration of its "
                                             "scenario"))
        out.print(f"method: {verdicts.ratio.METHOD}", highlight=False)
    for line, gated in verdicts.legend(found, runs):
        out.print(("" if gated else "[yellow]not gated:[/] ") + escape(line), highlight=False, soft_wrap=True)


def _metric_name(run) -> str:
    """e.g. 'early-stopping p90 latency (ms, lower is better)'."""
    if run["metric"] is None or pd.isna(run["metric"]):
        return "—"
    return f"{run['metric']} ({run['metric_unit']}, {run['metric_better']} is better)"


def _metric_cell(run) -> str:
    value = run["metric_value"]
    return _num(value) + ("" if value is None or pd.isna(value) else f" {run['metric_unit']}")


def _cell_text(field: str, value) -> str:
    from rich.markup import escape

    text = escape("—" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value))
    if field == "validity":
        return {"VALID": f"[green]{text}[/]", "INVALID": f"[bold red]{text}[/]"}.get(value, f"[yellow]{text}[/]")
    if field == "accuracy":
        return {"PASS": f"[green]{text}[/]", "FAIL": f"[bold red]{text}[/]"}.get(value, f"[yellow]{text}[/]")
    if field == "data" and value == "synthetic":
        return f"[yellow]{text}[/]"
    return text


def _runs_note(runs: pd.DataFrame) -> str:
    if runs.empty:
        return "none"
    invalid = int((runs["validity"] == "INVALID").sum())
    synthetic = int(runs["synthetic"].sum())
    notes = [f"{invalid} INVALID" if invalid else "", f"{synthetic} synthetic" if synthetic else ""]
    extra = ", ".join(n for n in notes if n)
    return f"{len(runs)}" + (f" [red]({extra})[/]" if extra else "")
