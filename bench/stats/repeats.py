"""`bench run --repeat N` and `--until-stable P`: one configuration run again and again, each run a complete record.

Each run loads, warms up and measures afresh (a new harness session, in this process) and its record carries
`repeat: {config_id, index, of, series}` (plus the stopping rule for --until-stable). Beside the runs, in the results
tree, `<config_id>-<series time>.summary.json` (written atomically after every run, so an interrupted series still
has one) holds what the runs add up to: the rule, each run's id and status, how the series stopped, the stability
check, per headline figure its values, mean, median, min/max, stdev, coefficient of variation and 95% interval
with the interval's method (bench/stats/describe.py), and apart from them the start-up cost per run (load, warm-up
seconds). It is derived from the records and can be rebuilt from them.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from bench.cache import atomic_write
from bench.errors import UsageError
from bench.record import results
from bench.stats import describe, figures, stability

SUMMARY_KIND = "bench-repeat-summary"
SUMMARY_SCHEMA = 1
SUMMARY_SUFFIX = ".summary.json"
MAX_DEFAULT = 10  # --until-stable's --max-repeats when not given
STARTUP = ("load_s", "compile_s", "warmup_s", "first_call_s")  # the record's timing, summarised per series


def check_options(repeat: int, until_stable: float | None, max_repeats: int | None) -> None:
    """Contradictions stop before anything is loaded or timed (exit 2)."""
    if until_stable is not None and repeat > 1:
        raise UsageError("--repeat N and --until-stable P are two stopping rules: give one (--until-stable stops "
                         "at --max-repeats)")
    if max_repeats is not None and until_stable is None:
        raise UsageError("--max-repeats bounds --until-stable P: add --until-stable, or use --repeat N alone")
    if until_stable is not None and (max_repeats or MAX_DEFAULT) < stability.WINDOW:
        raise UsageError(f"--max-repeats must be at least {stability.WINDOW}: stability is judged over the last "
                         f"{stability.WINDOW} runs")


def summarise(records: list[dict], rule: dict, stopped: str) -> dict:
    """The summary record of a series' records (in run order)."""
    done = [r for r in records if figures.measured(r)]
    first = records[0]
    names: dict[str, dict] = {}
    for record in done:
        for name, fig in figures.headline(record).items():
            names.setdefault(name, {**{k: fig[k] for k in ("unit", "key", "name", "higher_is_better")},
                                    "values": []})["values"].append(fig["value"])
    stable = None
    if "until_stable" in rule:
        values = names.get(figures.METRIC, {}).get("values", [])
        stable = stability.check(values, rule["until_stable"], rule["window"])
    out_figures = {}
    for name, fig in names.items():
        stats = describe.describe(fig["values"], describe.kind_of(fig["key"], fig["unit"]))
        if stable is not None and not stable["stable"]:  # unstable: never averaged into a confident figure
            stats.update(ci95=None, ci_coverage=None, note="unstable: not within the stability criterion, no interval")
        out_figures[name] = {**fig, **stats}
    return {
        "kind": SUMMARY_KIND, "schema": SUMMARY_SCHEMA,
        "config_id": figures.record_config_id(first), "series": first["repeat"]["series"],
        "written_at": results.utc_now(), "system": figures.system(first), "config": first.get("config"),
        "rule": rule, "stopped": stopped, "stability": stable, "unstable": stable is not None and not stable["stable"],
        "runs": [{"run_id": r.get("run_id"), "run_dir": r.get("run_dir"), "index": r["repeat"]["index"],
                  "status": r.get("status")} for r in records],
        "figures": out_figures,
        # the cost of getting there, per run, apart from the measured figures: load (compile, engine build), warm-up
        "startup": {key: describe.describe([(r.get("timing") or {}).get(key) for r in done
                                            if isinstance((r.get("timing") or {}).get(key), (int, float))])
                    for key in STARTUP},
    }


def run_configuration(cfg, console, run_one: Callable[..., dict], repeat: int = 1, until_stable: float | None = None,
                      max_repeats: int | None = None, in_series: dict | None = None
                      ) -> tuple[list[dict], dict | None, Path | None]:
    """`bench run`'s runs of one configuration: a series when a rule asks for one (records, summary, its path),
    else one run (records, None, None), annotated with its place in a sweep's series when `in_series` holds one
    (bench/sweep/rounds.py: the sweep interleaves the rounds and writes their summary itself)."""
    if repeat > 1 or until_stable is not None or max_repeats is not None:
        if in_series is not None:
            raise UsageError("--in-series is a sweep's round of a series: it takes no --repeat/--until-stable")
        return run_series(cfg, console, run_one, repeat, until_stable, max_repeats)
    annotate = None if in_series is None else {"repeat": {"config_id": figures.config_id(cfg.to_record()),
                                                          **in_series}}
    return [run_one(cfg, console, annotate=annotate)], None, None


def run_series(cfg, console, run_one: Callable[..., dict], repeat: int = 1, until_stable: float | None = None,
               max_repeats: int | None = None) -> tuple[list[dict], dict, Path]:
    """Run `cfg` repeatedly through `run_one(cfg, console, annotate=...)`; returns records, summary, its path."""
    check_options(repeat, until_stable, max_repeats)
    cid = figures.config_id(cfg.to_record())
    stamp = time.strftime("%Y%m%d-%H%M%S")
    series = f"{stamp}-{secrets.token_hex(2)}"  # two series of one config in the same second stay apart
    planned = repeat if until_stable is None else (max_repeats or MAX_DEFAULT)
    rule = {"repeat": repeat} if until_stable is None else \
        {"until_stable": until_stable, "window": stability.WINDOW, "max_repeats": planned}
    path = Path(cfg.output) / f"{cid}-{series}{SUMMARY_SUFFIX}"
    records: list[dict] = []
    summary: dict = {}
    for index in range(1, planned + 1):
        block = {"config_id": cid, "index": index, "of": planned, "series": series, "rule": rule}
        console.print(f"[bold]repeat[/] {index} of {'up to ' if until_stable is not None else ''}{planned} "
                      f"(configuration {cid})")
        try:
            records.append(run_one(cfg, console, annotate={"repeat": block}))
        except BaseException as exc:
            if records:
                write(path, summarise(records, rule, f"stopped at run {index}: {type(exc).__name__}: {exc}"))
            raise
        stopped = "complete" if index == planned else "running"
        summary = summarise(records, rule, stopped)
        if until_stable is not None:
            if summary["stability"]["stable"]:
                summary = summarise(records, rule, f"converged after {index} runs")
                write(path, summary)
                break
            if index == planned:
                summary = summarise(records, rule, f"not converged in {planned} runs")
        write(path, summary)
    return records, summary, path


def write(path: Path, summary: dict) -> None:
    atomic_write(path, json.dumps(summary, indent=2, allow_nan=False))


def load_summary(path: str | Path) -> dict:
    path = Path(path)
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a readable repeat summary ({type(exc).__name__}: {exc})")
    if not isinstance(summary, dict) or summary.get("kind") != SUMMARY_KIND:
        raise UsageError(f"{path}: not a bench repeat summary (kind {SUMMARY_KIND!r})")
    return summary
