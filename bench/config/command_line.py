"""The option table on the command line: click options from it, a RunConfig from click's values, and the
`bench run` command that reproduces a config (tune's "use it" line, a submission's reproduce lines, a sweep's cells)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.config.option import Option
from bench.config.run_config import (
    ALWAYS_SHOWN,
    BY_NAME,
    CLI_NAMES,
    OPTIONS,
    RunConfig,
    redacted,
)

# The `bench` group puts a callable here in its context's meta (bench/cli.py): backend option -> the backends that
# honour it, read from their declarations. Asked only when help is shown, so no backend imports for a plain run,
# and nothing here imports a layer above.
HONOURED_KEY = "bench.honoured"


def help_text(o: Option, honoured: Mapping[str, tuple[str, ...]] | None = None) -> str:
    """An option's help with its range, and for a backend option the backends that honour it (when known)."""
    notes = [f"Range: {o.range_text().split(' ', 2)[2].removeprefix('in ')}."] if o.low is not None else []
    if o.backend_option and honoured is not None:
        notes.append(f"Backends: {', '.join(honoured.get(o.name, ()))}" + "".join(
            f"; {' or '.join(w)} only" for w in (o.precisions, o.devices) if w) + ".")
    return " ".join([o.help, *notes])


def click_options(items=CLI_NAMES, **changes):
    """A decorator adding click options to a command: the table's (by name) or a command's own Option objects, in
    the order given. `changes` maps an option's name to click keywords that differ for this command."""
    import click

    class TableOption(click.Option):
        """A backend option's help is written when shown, with the backends that honour it."""

        def __init__(self, *args, table: Option, **keywords):
            super().__init__(*args, **keywords)
            self.table = table

        def get_help_record(self, ctx):
            if self.help is None:
                read = ctx.meta.get(HONOURED_KEY)
                if read is not None and "bench.honoured.value" not in ctx.meta:  # once per help page
                    ctx.meta["bench.honoured.value"] = read()
                self.help = help_text(self.table, ctx.meta.get("bench.honoured.value"))
            return super().get_help_record(ctx)

    def decorate(command):
        if isinstance(command, click.Command):  # already a command (decorated last): its params go first
            holder = decorate(lambda: None)
            command.params[:0] = list(reversed(holder.__click_params__))
            return command
        for o in reversed([BY_NAME[i] if isinstance(i, str) else i for i in items]):
            kind = click.Choice(o.choices) if o.choices else \
                {int: int, float: float, bool: bool, Path: click.Path(), str: str}[o.type]
            keywords = {"type": kind, "is_flag": o.type is bool, "default": o.default,
                        "show_default": o.default is not None and o.type is not bool,
                        "help": None if o.backend_option else help_text(o), **changes.get(o.name, {})}
            command = click.option(o.cli_flag, o.name, cls=TableOption, table=o, **keywords)(command)
        return command

    return decorate


def series_options(command):
    """`bench run`'s repeat options (bench/stats runs the series); a sweep plan's `repeat`, `until_stable` and
    `max_repeats` are checked by these same parameters."""
    import click

    for option in reversed((
        click.option("--repeat", type=click.IntRange(1, 1000), default=1, show_default=True,
                     help="Run the configuration N times, each a complete record; a summary (mean, median, spread, "
                     "95% interval) is written beside them."),
        click.option("--until-stable", type=click.FloatRange(0, 100, min_open=True), metavar="P",
                     help="Repeat until the last 3 runs' MLPerf metric lie within P% of their mean (at most "
                     "--max-repeats)."),
        click.option("--max-repeats", type=click.IntRange(1, 1000), help="--until-stable's most runs (default 10)."),
    )):
        command = option(command)
    return command


def run_parameters() -> list:
    """`bench run`'s click parameters for the option table and the repeats, as the CLI parses them (for checks
    made away from the CLI: a sweep plan's values)."""
    import click

    @click.command()
    @click_options()
    @series_options
    def run(**_):
        pass

    return run.params


def run_config(values: Mapping[str, Any], **fields) -> RunConfig:
    """A RunConfig from flat option values (as click passes them) and fields a command decides itself.

    Backend options go to RunConfig.extra only when set, so a record lists what was asked for.
    """
    merged = {**values, **fields}
    extra = {n: v for n, v in merged.items() if n in BY_NAME and BY_NAME[n].backend_option
             and v is not None and v != BY_NAME[n].default}
    if "calibration" in extra:  # a calibration list names images under the dataset
        extra["calibration_dataset"] = merged.get("dataset", BY_NAME["dataset"].default)
    plain = {n: v for n, v in merged.items() if n not in BY_NAME or not BY_NAME[n].backend_option}
    given = plain.pop("extra", None) or {}  # programmatic extras (calibration_dataset, ...) are kept
    return RunConfig(**plain, extra={**given, **extra})


def to_command(config, **changes) -> str:
    """The `bench run` command that reproduces `config` (a RunConfig, or a record's config dict): options that
    differ from their defaults, shell-quoted. `changes` override fields first (e.g. user_conf=...)."""
    if isinstance(config, Mapping):
        values = {**config, **redacted(config.get("extra") or {})}
    else:
        values = {o.name: getattr(config, o.name) for o in OPTIONS if not o.backend_option} | redacted(config.extra)
    values.update(changes)
    return shlex.join(["bench", "run", *run_args(values)])


def run_args(values: Mapping) -> list[str]:
    """`bench run`'s arguments for option values keyed by the table's names: each option that differs from its
    default (and ALWAYS_SHOWN), in the table's order. What to_command() prints and `bench sweep` runs."""
    args = []
    for o in OPTIONS:
        value = values.get(o.name, o.default)
        if not o.cli or (value == o.default and o.name not in ALWAYS_SHOWN) or value is None or value is False:
            continue
        args += [o.cli_flag] if value is True else [o.cli_flag, str(value)]
    return args
