"""A plan's repeat rule: `repeat = N`, or `until_stable = P` (with `max_repeats = M`), at the top of the plan.

Every cell runs N times in rounds, A B A B ...: round k runs each cell once before round k+1 starts, so a drift of the
machine (heat, a neighbour's load) falls on every configuration alike, as benchmarks/peers.py interleaves. Each run is
a complete `bench run` record whose `repeat` block names its configuration id and series (one series per cell and
sweep); after each round the cell's summary (bench/stats/repeats.py's) is written beside its runs,
`<output>/<target>/<cell>/<config-id>-<series>.summary.json`. Under until_stable a cell leaves the rounds once its
last 3 runs agree within P%; a cell whose run fails leaves them too, its summary saying where it stopped.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from bench.errors import UsageError
from bench.stats import repeats, stability
from bench.sweep import options as opts
from bench.sweep.options import run_params

RULE_KEYS = ("repeat", "until_stable", "max_repeats")  # bench run's own series options, as plan keys


def rule(reader, data: dict) -> dict | None:
    """The plan's repeat rule, checked as `bench run --repeat/--until-stable/--max-repeats` checks them (their click
    parameters' ranges, strict types, the same contradictions); None when the plan sets none."""
    reader.one_spelling([k for k in data if opts.normalise(k) in RULE_KEYS])
    for table in [data.get("defaults"), *(data.get("runs") or [])]:
        for key in table if isinstance(table, dict) else []:
            if opts.normalise(key) in RULE_KEYS:
                reader.fail(key, f"{key} is the plan's repeat rule, not a run option",
                            f"Write `{key} = ...` at the top of the plan, before any [table]: every cell repeats")
    given = {opts.normalise(k): v for k, v in data.items() if opts.normalise(k) in RULE_KEYS}
    if not given:
        return None
    params = run_params()
    values = {}
    for name, value in given.items():
        spelt = next(k for k in data if opts.normalise(k) == name)
        number = int if name != "until_stable" else (int, float)
        if isinstance(value, bool) or not isinstance(value, number):
            reader.fail(spelt, f"bad value {value!r} for {spelt}", "Give " + ("a whole number" if number is int
                                                                              else "a percentage, e.g. 5"))
        try:
            values[name] = params[name].type.convert(value, params[name], None)
        except click.BadParameter as exc:
            kind = params[name].type
            reader.fail(spelt, f"bad value {value!r} for {spelt} ({exc.message})",
                        f"Give a number from {kind.min} to {kind.max}")
    try:
        repeats.check_options(values.get("repeat", 1), values.get("until_stable"), values.get("max_repeats"))
    except UsageError as exc:
        said = str(exc)
        for flag in ("--until-stable", "--max-repeats", "--repeat"):  # bench run's flags, as the plan spells them
            said = said.replace(flag, flag[2:].replace("-", "_"))
        first = next(k for k in data if opts.normalise(k) in RULE_KEYS)
        reader.fail(first, said.rstrip("."), "Fix the plan's repeat rule")
    if "until_stable" in values:
        return {"until_stable": values["until_stable"], "window": stability.WINDOW,
                "max_repeats": values.get("max_repeats") or repeats.MAX_DEFAULT}
    return {"repeat": values["repeat"]} if values.get("repeat", 1) > 1 else None



def planned(rule: dict) -> int:
    return rule.get("max_repeats") or rule["repeat"]


def block(sweep, cell) -> dict | None:
    """The `repeat` block (less the configuration id, which bench run computes) for the cell's run this round."""
    series = sweep.state(cell).get("series")
    return None if series is None else {k: series[k] for k in ("series", "index", "of", "rule")}


def run(sweep, cells: list, rule: dict | None, execute, progress) -> None:
    """Run `cells` through `execute(cells)` (an executor over the sweep) once, or in rounds under `rule`."""
    if rule is None:
        execute(cells)
        return
    count = planned(rule)
    for cell in cells:
        sweep.state(cell)["series"] = {"series": f"{sweep.id}-{cell.config_hash[:8]}", "index": 0, "of": count,
                                       "rule": rule, "runs": [], "stopped": "running", "summary": None}
    active = list(cells)
    for index in range(1, count + 1):
        for cell in active:
            sweep.state(cell)["series"]["index"] = index
        sweep.save()
        execute(active)
        active = [cell for cell in active if _after_run(sweep, cell, index, count, rule, progress)]
        sweep.save()
        if not active:
            break


def _after_run(sweep, cell, index: int, count: int, rule: dict, progress) -> bool:
    """Note the round's run, write the cell's summary; True if the cell runs in the next round."""
    from bench.record import results

    entry = sweep.state(cell)
    series = entry["series"]
    ran = entry["status"] == "complete" and entry["path"] not in series["runs"]
    if ran:
        series["runs"].append(entry["path"])
    go_on = ran and index < count
    stopped = "running" if go_on else "complete"
    if not ran:
        stopped = f"stopped at run {index}: {entry['status']}: {entry['reason'] or 'no record'}"
    if not series["runs"]:
        series["stopped"] = stopped
        return False
    records = [results.load(sweep.output / path) for path in series["runs"]]
    summary = repeats.summarise(records, rule, stopped)
    if ran and "until_stable" in rule:
        if summary["stability"]["stable"]:
            go_on, stopped = False, f"converged after {index} runs"
        elif index == count:
            stopped = f"not converged in {count} runs"
        summary = repeats.summarise(records, rule, stopped)
    for run, landed in zip(summary["runs"], series["runs"]):  # where it landed, not the temporary directory it ran in
        run["run_dir"] = str(Path(sweep.output, landed).resolve())
    name = f"{summary['config_id']}-{series['series']}{repeats.SUMMARY_SUFFIX}"
    path = Path(sweep.output, entry["path"]).parent / name
    repeats.write(path, summary)
    series.update(stopped=stopped, summary=str(path.relative_to(sweep.output)))
    progress.event(entry, "round", f"run {index} of {'up to ' if 'until_stable' in rule else ''}{count}: {stopped}; "
                   f"summary {series['summary']}")
    return go_on


def sweep_block(text: str | None) -> dict | None:
    """bench run's hidden --in-series JSON (a sweep's round): the block, checked, or None."""
    if text is None:
        return None
    try:
        value = json.loads(text)
        ok = isinstance(value, dict) and isinstance(value.get("series"), str) and isinstance(value.get("rule"), dict) \
            and all(isinstance(value.get(k), int) and value[k] >= 1 for k in ("index", "of"))
    except ValueError:
        ok = False
    if not ok:
        raise UsageError(f"--in-series {text!r}: not a sweep's series block (series, index, of, rule); it is set by "
                         "`bench sweep`, not by hand")
    return value
