"""`bench report`: results.csv and a self-contained index.html over the runs under the given paths."""

from __future__ import annotations

import time

import click


@click.command("report")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--out", type=click.Path(), help="Report directory (default: reports/report-<date>-<time>).")
def report_cmd(paths, out):
    """Write results.csv and index.html for the runs in PATHS (run directories or results trees; default: results).

    Trees copied from several machines can be given together: every run found is kept.
    """
    from rich.markup import escape

    from bench import report
    from bench.console import err
    from bench.console import out as console

    paths = paths or ("results",)
    out = out or f"reports/report-{time.strftime('%Y%m%d-%H%M%S')}"
    df, problems = report.write(paths, out)
    for line in problems:
        err.print(f"[yellow]skipped:[/] {escape(line)}", highlight=False)  # markup=False printed the tags
    invalid = int((df["validity"] == "INVALID").sum())
    synthetic = int(df["synthetic"].sum())
    console.print(f"{len(df)} runs from {df['system'].nunique()} systems ({invalid} INVALID, {synthetic} synthetic)",
                  highlight=False)
    console.print(f"{out}/results.csv\n{out}/index.html", highlight=False, markup=False)
