"""`bench report`: results.csv and a self-contained index.html over the runs under the given paths."""

from __future__ import annotations

import time

import click


@click.command("report")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--out", type=click.Path(), help="Report directory (default: reports/report-<date>-<time>).")
@click.option("--index", "use_index", is_flag=True,
              help="Read each results tree's index (.bench-index.sqlite, refreshed from the files) instead of every "
              "result.json: the same results.csv and page, fast over thousands of runs.")
def report_cmd(paths, out, use_index):
    """Write results.csv and index.html for the runs in PATHS (run directories or results trees; default: results).

    Trees copied from several machines can be given together: every run found is kept.
    """
    from rich.markup import escape

    from bench import report
    from bench.console import err
    from bench.console import out as console

    paths = paths or ("results",)
    out = out or f"reports/report-{time.strftime('%Y%m%d-%H%M%S')}"
    indexed = None
    if use_index:  # the index sits below the report: the command reads it and hands the rows over
        from bench.index import records

        indexed = records.load_report(paths, err)
    df, problems = report.write(paths, out, indexed)
    for line in problems:
        err.print(f"[yellow]skipped:[/] {escape(line)}", highlight=False)  # markup=False printed the tags
    invalid = int((df["validity"] == "INVALID").sum())
    synthetic = int(df["synthetic"].sum())
    console.print(f"{len(df)} runs from {df['system'].nunique()} systems ({invalid} INVALID, {synthetic} synthetic)",
                  highlight=False)
    console.print(f"{out}/results.csv\n{out}/index.html", highlight=False, markup=False)
