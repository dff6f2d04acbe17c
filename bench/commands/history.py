"""`bench history`: a configuration's headline figure over time and versions, through the results index."""

from __future__ import annotations

import click

from bench.index.history import METRICS


@click.command("history")
@click.argument("results", type=click.Path(), default="results")
@click.option("--metric", type=click.Choice(METRICS), default="metric", show_default=True,
              help="The figure: MLPerf's metric of the scenario, or samples/s and latency percentiles.")
@click.option("--config", "config_id", help="A configuration id (or its first characters), as `bench run --repeat` "
              "and `bench compare` print it.")
@click.option("--html", "html_path", type=click.Path(), help="Also write a self-contained HTML chart here.")
@click.option("--last", type=click.IntRange(1, 100_000), default=30, show_default=True,
              help="Rows shown per configuration in the terminal (flags use every earlier run; the chart shows all).")
def history_cmd(results, metric, config_id, html_path, last):
    """Show each configuration's figure over time and software versions (bench, backend, driver); a run outside the
    95% interval of the earlier runs is flagged as a regression (or improvement)."""
    from rich.markup import escape
    from rich.table import Table

    from bench.cache import atomic_write
    from bench.console import err, out
    from bench.errors import UsageError
    from bench.index import history, store

    con = store.open_index(results, err)
    try:
        by_config = history.series(con, metric, config_id)
    finally:
        con.close()
    if not by_config:
        raise UsageError(f"no complete run with {metric} under {results}" + (f" for configuration {config_id}"
                                                                               if config_id else ""))
    flagged = {}
    for cid, runs in by_config.items():
        runs = flagged[cid] = history.flag(runs, history.higher_better(metric, runs[0]))
        first = runs[0]
        table = Table(title=escape(f"{cid}: {first['system']} {first['backend']}/{first['precision']} "
                                   f"{first['scenario']} {first['model']} ({metric})"))
        for column in ("started", "run", "versions", "value", "earlier runs' 95% interval", "flag"):
            table.add_column(column, overflow="fold")
        if len(runs) > last:
            table.caption = f"the last {last} of {len(runs)} runs (--last); the chart shows all"
        for r in runs[-last:]:
            interval = f"{r['interval'][0]:,.3f} … {r['interval'][1]:,.3f}" if r["interval"] else "—"
            mark = {"regression": "[bold red]regression[/]", "improvement": "[green]improvement[/]"}.get(r["flag"], "")
            table.add_row(escape(r["started_at"] or "—"), escape(r["run_id"]), escape(history.version_text(r)),
                          f"{r['value']:,.3f}", interval, mark)
        out.print(table)
    if html_path:
        atomic_write(html_path, history.html_page(metric, flagged))
        out.print(f"chart: {escape(str(html_path))}", highlight=False)
