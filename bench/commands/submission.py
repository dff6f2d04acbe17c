"""`bench submission`: assemble the MLPerf Inference submission tree (ResNet-50 and open-division models)."""

from __future__ import annotations

import click


@click.command("submission")
@click.option("--results", "results_dir", default="results", show_default=True, type=click.Path(),
              help="Results tree holding the runs (bench run, bench audit, bench tune).")
@click.option("--out", required=True, type=click.Path(), help="Where the submission tree goes.")
@click.option("--submitter", required=True, help="Submitting organisation (names a folder).")
@click.option("--division", type=click.Choice(["closed", "open"]), required=True)
@click.option("--system", help="System name for every run (default: <system name>_<backend>[_<precision>], plus "
              "batch/streams/threads/device where two runs of one scenario differ in them).")
@click.option("--system-type", type=click.Choice(["edge", "datacenter", "datacenter,edge"]),
              help="Suite: edge needs SingleStream, MultiStream, Offline; datacenter Server, Offline (default: "
              "edge, or with Server results datacenter,edge; ResNet-50 left the datacenter-only suite in v5.1).")
@click.option("--version", type=click.Choice(["v5.0", "v5.1", "v6.0", "v6.1"]),
              help="MLPerf round (default: the round whose seeds the runs' LoadGen used; another round is refused).")
def submission_cmd(results_dir, out, submitter, division, system, system_type, version):
    """Write OUT/<division>/<submitter>/ in the layout of the runs' MLPerf round (results/<system>/<model>/
    <Scenario>/, systems/, src/ or code/; v5.x also measurements/ and compliance/) and OUT/FILL_IN.md."""
    from rich.table import Table

    from bench.console import out as console
    from bench.mlperf import submission

    summary = submission.build(results_dir, out, submitter, division, system, system_type, version)
    table = Table(title=f"submission tree {summary['root']}", show_header=False)
    table.add_row("round", summary["version"])
    table.add_row("systems", ", ".join(f"{s} ({t})" for s, t in summary["suites"].items()))
    table.add_row("scenarios", ", ".join(summary["scenarios"]))
    for sys_id, keys in summary["fill_in"].items():
        table.add_row(f"[yellow]fill in[/] systems/{sys_id}.json", ", ".join(keys))
    for item in summary["notes"]:
        table.add_row("[yellow]left out[/]", item)
    for item in summary["missing"]:
        table.add_row("[red]missing[/]", item)
    if not summary["complete"]:
        table.add_row("[bold red]INCOMPLETE[/]", "the tree misses what is listed above (also in FILL_IN.md)")
    table.add_row("next", f"read {out}/FILL_IN.md, then run the MLCommons submission checker (see docs/mlperf.md)")
    console.print(table)
