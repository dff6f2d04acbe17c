"""`bench submission`: assemble the MLPerf Inference submission tree for ResNet-50 from result records."""

from __future__ import annotations

import click


@click.command("submission")
@click.option("--results", "results_dir", default="results", show_default=True, type=click.Path(),
              help="Results tree holding the runs (bench run, bench audit, bench tune).")
@click.option("--out", required=True, type=click.Path(), help="Where the submission tree goes.")
@click.option("--submitter", required=True, help="Submitting organisation (names a folder).")
@click.option("--division", type=click.Choice(["closed", "open"]), required=True)
@click.option("--system", help="System name for every run (default: <system name>_<backend> from each record).")
@click.option("--system-type", type=click.Choice(["datacenter", "edge", "datacenter,edge"]),
              help="Suite (default: datacenter if Server results, edge if SingleStream, both if both).")
@click.option("--version", type=click.Choice(["v5.0", "v5.1", "v6.0"]), default="v5.1", show_default=True,
              help="MLPerf round whose layout to write (v6.0 puts measurements and compliance under results/).")
def submission_cmd(results_dir, out, submitter, division, system, system_type, version):
    """Write OUT/<division>/<submitter>/{code,systems,results,measurements,compliance} and OUT/FILL_IN.md."""
    from rich.table import Table

    from bench import submission
    from bench.cli import out as console

    summary = submission.build(results_dir, out, submitter, division, system, system_type, version)
    table = Table(title=f"submission tree {summary['root']}", show_header=False)
    table.add_row("systems", ", ".join(summary["systems"]))
    table.add_row("scenarios", ", ".join(summary["scenarios"]))
    for sys_id, keys in summary["fill_in"].items():
        table.add_row(f"[yellow]fill in[/] systems/{sys_id}.json", ", ".join(keys))
    for item in summary["missing"]:
        table.add_row("[red]missing[/]", item)
    table.add_row("next", f"read {out}/FILL_IN.md, then run the MLCommons submission checker (see README)")
    console.print(table)
