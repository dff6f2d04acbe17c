"""The run options a plan may set: `bench run`'s own option table (bench/config/run_config.py), so plan and CLI never
drift apart, with the same strict types, ranges, choices and "who honours it" checks `bench run` applies.

A plan key is the option's long flag without dashes, with `-` or `_` (`batch-size`, `batch_size`, `duration`);
one option spelt both ways in one table is refused (TOML sees two keys, and one would silently win).
`to_command` turns a cell's options into the `bench run` command line through the option table's `run_args()` (bench/config/).
"""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import click

from bench.backends import backend_class, names, unhonoured
from bench.config import run_config as table
from bench.config.command_line import run_args, run_parameters
from bench.config.option import Option
from bench.errors import BenchError, UsageError
from bench.system.devices import validate as validate_device

# Options the sweep decides itself: where results land and how the record is printed.
OWN = {"output", "as_json", "strict"}


def plan_key(option: Option) -> str:
    return option.cli_flag.lstrip("-").replace("-", "_")


def options() -> dict[str, Option]:
    """Plan key (underscored long flag) -> `bench run`'s Option."""
    return {plan_key(o): o for o in table.OPTIONS if o.cli and o.name not in OWN}


def run_params() -> dict[str, click.Parameter]:
    """Plan key -> `bench run`'s click parameter (the same options, as the CLI parses them)."""
    params: dict[str, click.Parameter] = {}
    for p in run_parameters():
        if p.name in OWN or not isinstance(p, click.Option):
            continue
        params[max(p.opts, key=len).lstrip("-").replace("-", "_")] = p
    return params


def normalise(key: str) -> str:
    return key.replace("-", "_")


def convert(key: str, value, machine_bounds: bool = True):
    """The value as `bench run` would take it, strictly: a TOML float for an integer option is refused, not
    truncated; ranges and choices are the table's. Raises click.BadParameter (KeyError for an unknown key).

    `machine_bounds`: also check ranges derived from this machine (--threads' cores); off when cells run
    elsewhere (Ray), where the node that runs the cell checks them."""
    option = options()[normalise(key)]
    kind = option.type
    if kind is bool:
        if not isinstance(value, bool):
            raise click.BadParameter(f"{key} is a flag: true or false, got {value!r}")
        return value
    if isinstance(value, (list, dict)):
        raise click.BadParameter(f"{key} takes one value, got {value!r}")
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise click.BadParameter(f"{value!r} is not a valid integer")
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise click.BadParameter(f"{value!r} is not a valid number")
        value = float(value)
    if kind in (str, Path) and not isinstance(value, str):
        raise click.BadParameter(f"{value!r} is not a string: write it in quotes")
    if option.choices and value not in option.choices:
        raise click.BadParameter(f"{value!r} is not one of {', '.join(option.choices)}")
    if option.low is not None:
        if callable(option.high) and not machine_bounds:
            option = dataclasses.replace(option, high=math.inf)  # the lower bound still holds everywhere
        try:
            option.check_number(value)
        except UsageError:
            raise click.BadParameter("outside its range") from None  # describe() says the range and why
    return value


def describe(option: Option) -> str:
    """What values an option takes, for error messages."""
    if option.type is bool:
        return "true or false"
    if option.choices:
        return "one of " + ", ".join(option.choices)
    if option.low is not None:
        return f"{option.range_text()} ({option.why})"
    return {int: "an integer", float: "a number"}.get(option.type, "a string in quotes")


def refusal(values: dict, machine_bounds: bool = True) -> str | None:
    """What `bench run` would refuse in a cell's options before loading anything (an option its backend, device
    or precision does not honour, a malformed device), as bench run says it; None when the table accepts it."""
    by_key = options()
    named = {by_key[k].name: v for k, v in values.items()
             if machine_bounds or not callable(by_key[k].high)}  # else the node that runs the cell checks it
    plain = {o.name: named.get(o.name, o.default) for o in table.OPTIONS if not o.backend_option}
    extra = {n: v for n, v in named.items() if table.BY_NAME[n].backend_option and v is not None and v is not False}
    try:
        validate_device(plain["device"])
        table.check(cast(table.RunConfig, SimpleNamespace(**plain, extra=extra)))  # it reads these fields only
    except UsageError as exc:
        return str(exc)
    if extra and plain["backend"] in names(include_hidden=True):  # who honours an option: its declaration
        try:
            refused = unhonoured(backend_class(plain["backend"]), extra)
        except BenchError:  # a backend that cannot be imported: the plan's static check reports it
            return None
        return None if refused is None else str(refused)
    return None


def to_command(values: dict, output: str) -> list[str]:
    """`python -m bench.cli run ...` for one cell: the option table's own run_args(), with the sweep's --output."""
    by_key = options()
    named = {by_key[normalise(key)].name: value for key, value in values.items()}
    return [sys.executable, "-m", "bench.cli", "run", *run_args(named), "--output", output]
