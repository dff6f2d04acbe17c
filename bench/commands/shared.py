"""`bench run`'s options reused by `bench tune` and `bench audit`, so the three commands never drift apart."""

from __future__ import annotations

import copy
import dataclasses

from bench.config import RunConfig

# Options of `bench run` that these commands decide themselves (or that make no sense for them).
OWN = {"scenario", "mode", "output", "profile", "target_qps", "user_conf", "strict", "as_json"}
FIELDS = {f.name for f in dataclasses.fields(RunConfig)}


def run_options(command):
    """Add `bench run`'s model, data, backend and batching options to a click command (decorator)."""
    from bench.cli import run

    shared = [copy.copy(p) for p in run.params if p.name in FIELDS and p.name not in OWN]
    command.params[:0] = shared
    return command


def config(options: dict, **fields) -> RunConfig:
    """A RunConfig from the shared options (popped from `options`) and the command's own fields."""
    shared = {k: options.pop(k) for k in list(options) if k in FIELDS and k not in OWN}
    return RunConfig(**shared, **fields)
