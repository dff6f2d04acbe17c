"""`bench tune`: find the LoadGen settings a scenario should use here and write them as a user.conf."""

from __future__ import annotations

import math

import click
from rich.table import Table

from bench.commands.shared import config, run_options
from bench.config.command_line import click_options
from bench.config.option import Option
from bench.config.run_config import BY_NAME
from bench.scenarios.server import QUICK_QUERIES

# The confirming Server run needs the quick profile's 460 queries (LoadGen's early stopping judges p99 on them):
# below this QPS they take more than an hour.
MIN_MAX_QPS = math.ceil(100 * QUICK_QUERIES / 3600) / 100
# tune's own options, declared and checked like `bench run`'s (bench/config/run_config.py).
TUNE_OPTIONS = (
    Option("trial_seconds", float, 3.0, "Length of each short search run.", low=0, high=600, low_open=True,
           why="MLPerf's whole run is 600 s; a longer short run tunes nothing better"),
    Option("max_trials", int, 8, "Most short runs in each search (batch x streams x threads; Server's QPS).", low=3,
           high=100,
           why="the search needs a bracket and a midpoint; 100 short runs already take hours"),
    Option("max_qps", float, None, "Server: search no higher than this (default: the warm-up throughput).",
           low=MIN_MAX_QPS, high=BY_NAME["target_qps"].high,
           why=f"the confirming run needs {QUICK_QUERIES} queries, over an hour below {MIN_MAX_QPS:g} QPS; "
           f"{BY_NAME['target_qps'].why}"),
    Option("fixed", bool, False, "Keep --batch-size, --streams and --threads as given (default: search them, a "
           "latency scenario's threads only, then tune the QPS or latency)."),
)


@run_options
@click.command("tune")
@click_options(("scenario", "output", *TUNE_OPTIONS), scenario={"required": True, "default": None},
               output={"default": "results/tune", "help": "Where user.conf, tune.json and the confirming runs go."})
def tune_cmd(scenario, output, trial_seconds, max_trials, max_qps, fixed, **options):
    """Server: highest VALID --target-qps under the latency bound; Offline: expected QPS; SingleStream: expected
    latency. Short LoadGen runs on one loaded backend, then a confirming run; writes OUTPUT/user.conf."""
    from bench.console import err, out
    from bench.mlperf import tune

    for option, value in zip(TUNE_OPTIONS, (trial_seconds, max_trials, max_qps, fixed), strict=True):
        option.check_number(value)  # finite and in range, else exit 2 saying the range and why
    cfg = config(options, scenario=scenario, output=output)
    summary = tune.tune(cfg, output, err, trial_s=trial_seconds, max_trials=max_trials,
                          max_qps=max_qps, fixed=fixed)
    table = Table(title=f"bench tune: {cfg.model} {scenario} on {cfg.backend}", show_header=False)
    table.add_row(summary["setting"], f"[bold]{summary['value']:g}[/]" + (" QPS" if summary["setting"] == "target_qps"
                                                                         else " ms"))
    table.add_row("why", summary["why"])
    if grid := summary["configuration_search"]:
        point, start = grid["point"], grid["start"]
        table.add_row("configuration", f"batch {point['batch_size']}, streams {point['streams']}, threads "
                      f"{point['threads']}: {grid['score']:,.2f} {grid['unit']} in {len(grid['trials'])} short runs; "
                      f"the given one (batch {start['batch_size']}, streams {start['streams']}, threads "
                      f"{start['threads']}) ran {grid['start_score']:,.2f}")
    last = summary["confirmations"][-1]
    table.add_row("confirming run", ("[bold green]VALID[/]" if last["valid"] else "[bold red]INVALID[/] "
                                     + "; ".join(last["invalid_reasons"])) + f"  ({last['run_dir']})")
    table.add_row("user.conf", summary["user_conf"])
    table.add_row("use it", summary["command"])
    table.add_row("elapsed", f"{summary['elapsed_s']:.0f} s")
    out.print(table)
    if not summary["valid"]:
        raise click.exceptions.Exit(1)
