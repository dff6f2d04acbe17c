"""`bench fetch NAME`: download a known model (bench/models/known_models.toml) into the cache, verified."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table


@click.command("fetch")
@click.argument("name", required=False)
@click.option("--url", help="Download from here instead of the table's URL (a mirror, file://, http://localhost).")
@click.option("--accept-unverified", is_flag=True, help="Fetch a model whose table row has no sha256.")
@click.option("--list", "list_only", is_flag=True, help="List the known models and whether each is cached.")
def fetch_cmd(name, url, accept_unverified, list_only):
    """Download a known model into the cache (progress bar, sha256 check); offline, say where to put it."""
    from bench.errors import UsageError
    from bench.models import known
    from bench.models.fetch import fetch

    console = Console(stderr=True)
    if list_only or name is None:
        table = Table(title="known models")
        for column in ("name", "arch", "format", "preprocessing", "reference top-1", "cached at"):
            table.add_column(column)
        for m in known.table().values():
            table.add_row(m.name, m.arch, m.format, m.preprocessing, f"{100 * m.reference_top1:.3f}%",
                          str(m.path) if m.path.is_file() else "[dim]not fetched[/]")
        Console().print(table)
        if name is None and not list_only:
            raise UsageError("give a model NAME to fetch (see the table above)")
        return
    path = fetch(known.get(name), console, url, accept_unverified)
    click.echo(str(path))
