"""`bench tune`: find the LoadGen settings a scenario should use here and write them as a user.conf."""

from __future__ import annotations

import click
from rich.table import Table

from bench.commands.shared import config, run_options
from bench.config import SCENARIOS


@run_options
@click.command("tune")
@click.option("--scenario", type=click.Choice(SCENARIOS), required=True)
@click.option("--output", default="results/tune", show_default=True, type=click.Path(),
              help="Where user.conf, tune.json and the confirming runs go.")
@click.option("--trial-seconds", type=float, default=3.0, show_default=True, help="Length of each short search run.")
@click.option("--max-trials", type=int, default=8, show_default=True, help="Most short runs in a Server search.")
@click.option("--max-qps", type=float, help="Server: search no higher than this (default: the warm-up throughput).")
def tune_cmd(scenario, output, trial_seconds, max_trials, max_qps, **options):
    """Server: highest VALID --target-qps under the latency bound; Offline: expected QPS; SingleStream: expected
    latency. Short LoadGen runs on one loaded backend, then a confirming run; writes OUTPUT/user.conf."""
    from bench import tune
    from bench.cli import err, out
    from bench.errors import UsageError

    if trial_seconds <= 0 or max_trials < 3 or (max_qps is not None and max_qps <= 0):
        raise UsageError("--trial-seconds and --max-qps must be > 0, and --max-trials at least 3")
    cfg = config(options, scenario=scenario, output=output)
    summary = tune.tune(cfg, output, err, trial_s=trial_seconds, max_trials=max_trials,
                          max_qps=max_qps)
    table = Table(title=f"bench tune: {cfg.model} {scenario} on {cfg.backend}", show_header=False)
    table.add_row(summary["setting"], f"[bold]{summary['value']:g}[/]" + (" QPS" if summary["setting"] == "target_qps"
                                                                         else " ms"))
    table.add_row("why", summary["why"])
    last = summary["confirmations"][-1]
    table.add_row("confirming run", ("[bold green]VALID[/]" if last["valid"] else "[bold red]INVALID[/] "
                                     + "; ".join(last["invalid_reasons"])) + f"  ({last['run_dir']})")
    table.add_row("user.conf", summary["user_conf"])
    table.add_row("use it", summary["command"])
    table.add_row("elapsed", f"{summary['elapsed_s']:.0f} s")
    out.print(table)
    if not summary["valid"]:
        raise click.exceptions.Exit(1)
