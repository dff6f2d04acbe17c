"""`bench run`'s options reused by `bench tune` and `bench audit`, so the three commands never drift apart."""

from __future__ import annotations

from bench.config.command_line import click_options, run_config
from bench.config.run_config import CLI_NAMES

# Options of `bench run` that these commands decide themselves (or that make no sense for them).
OWN = {"scenario", "mode", "output", "profile", "target_qps", "user_conf", "strict"}
SHARED = tuple(n for n in CLI_NAMES if n not in OWN)


def run_options(command):
    """Add `bench run`'s model, data, backend and batching options to a click command (decorator)."""
    return click_options(SHARED)(command)


def config(options: dict, **fields):
    """A RunConfig from the shared options (popped from `options`) and the command's own fields."""
    shared = {k: options.pop(k) for k in list(options) if k in SHARED}
    return run_config(shared, **fields)
