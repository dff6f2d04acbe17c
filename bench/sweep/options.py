"""The run options a plan may set, read from `bench run`'s own click parameters so plan and CLI never drift apart.

A plan key is the option's long flag without dashes, with `-` or `_` (`batch-size`, `batch_size`, `duration`).
`to_command` turns a cell's options into the `bench run` command line through the option table's `run_args()`.
"""

from __future__ import annotations

import sys

import click

# Options the sweep decides itself: where results land and how the record is printed.
OWN = {"output", "as_json", "strict"}


def run_params() -> dict[str, click.Parameter]:
    """Plan key (underscored long flag) -> `bench run`'s click parameter."""
    from bench.cli import run

    params = {}
    for p in run.params:
        if p.name in OWN or not isinstance(p, click.Option):
            continue
        flag = max(p.opts, key=len).lstrip("-").replace("-", "_")
        params[flag] = p
    return params


def normalise(key: str) -> str:
    return key.replace("-", "_")


def convert(key: str, value, params: dict[str, click.Parameter] | None = None):
    """The value as `bench run` would take it; raises click.BadParameter (or KeyError for an unknown key)."""
    params = params or run_params()
    param = params[normalise(key)]
    if param.is_flag:
        if not isinstance(value, bool):
            raise click.BadParameter(f"{key} is a flag: true or false, got {value!r}")
        return value
    if isinstance(value, (list, dict)):
        raise click.BadParameter(f"{key} takes one value, got {value!r}")
    converted = param.type.convert(value, param, None)
    if isinstance(converted, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return converted


def describe(param: click.Parameter) -> str:
    """What values an option takes, for error messages."""
    if param.is_flag:
        return "true or false"
    if isinstance(param.type, click.Choice):
        return "one of " + ", ".join(map(str, param.type.choices))
    return param.type.name


def to_command(options: dict, output: str) -> list[str]:
    """`python -m bench.cli run ...` for one cell: the option table's own run_args(), with the sweep's --output."""
    from bench.config.command_line import run_args
    from bench.config.run_config import OPTIONS

    names = {o.cli_flag.lstrip("-").replace("-", "_"): o.name for o in OPTIONS}  # plan key -> the table's name
    values = {names[normalise(key)]: value for key, value in options.items()}
    return [sys.executable, "-m", "bench.cli", "run", *run_args(values), "--output", output]
