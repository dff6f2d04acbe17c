"""Auto-tuning: the LoadGen settings a scenario should use on this machine, found with short LoadGen runs on
one loaded backend, confirmed by a full `bench run`-style run, and written as a user.conf.

Each scenario says what is searched (`Scenario.tune`). A latency-bound scenario (Server): the highest target
QPS whose short runs keep p99 latency under the bound (a bracket from the warm-up throughput, then bisection),
then a confirming run with the quick profile's 460-query minimum, so LoadGen's early stopping can judge p99
itself. The others: one short measuring run gives the expected QPS or latency LoadGen sizes its run with.
"""

from __future__ import annotations

import io
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console

from bench import safe_names, scenarios
from bench.cache import atomic_write
from bench.config.command_line import to_command
from bench.config.run_config import DEFAULTS, RunConfig
from bench.config.userconf import parse
from bench.errors import RunFailed, UsageError
from bench.mlperf import tune_grid
from bench.record import codec
from bench.run import harness

# A short Server run passes when p99 stays under this share of the bound (its p99 rests on few queries) ...
P99_MARGIN = 0.8
# ... and the SUT completes samples at least this close to the rate they arrive (else its queue only grows).
KEEP_UP = 0.85
# Bisection stops when the bracket is this narrow, relative to its top.
TOLERANCE = 0.05
# Queries in a short tuning run: at least this many (their p99 is then near their maximum: conservative), few
# enough that a slow CPU's search takes minutes, not an hour; --trial-seconds worth when that is more.
MIN_TRIAL_QUERIES = 30
# A short run may last this many times --trial-seconds before LoadGen stops it (its max_duration): at a QPS so low
# that MIN_TRIAL_QUERIES take longer, the trial judges the queries it got, and the wait stays the user's to set.
TRIAL_OVERRUN = 2.0
# Short runs in each Server configuration's own QPS search while the configuration is searched.
GRID_QPS_TRIALS = 4
# If the confirming Server run is INVALID, lower the QPS by this factor and confirm again, this many times.
BACKOFF, CONFIRM_TRIES = 0.9, 3


@dataclass
class Trial:
    target_qps: float
    p99_ms: float | None
    completed_sps: float | None
    passed: bool
    why: str
    log_dir: str


def tune(cfg: RunConfig, output: str | Path, console: Console, trial_s: float = 3.0,
         max_trials: int = 8, max_qps: float | None = None, fixed: bool = False) -> dict:
    """Search, write <output>/user.conf, confirm; returns a summary (also <output>/tune.json).

    Unless `fixed`: first the batch size, streams and threads (bench/mlperf/tune_grid.py; a latency scenario's
    threads), scored by the scenario's own figure, then the setting on the best of them."""
    scenario = scenarios.get(cfg.scenario)
    if scenario.tune.search == "qps-under-bound":
        check_max_qps(max_qps, trial_s)  # before anything is written or loaded
    output = Path(output)
    conf_path = output / "user.conf"
    for path in (conf_path, output / "tune.json"):  # a user's own file there is never overwritten
        safe_names.check_overwritable(path, "--output's", "Choose another --output, or move the file away")
    output.mkdir(parents=True, exist_ok=True)
    state: dict = {"trials": []}
    started = time.perf_counter()

    grid = None
    if not fixed:
        score, unit = _grid_score(scenario, trial_s, max_qps)
        grid = tune_grid.search(cfg, scenario, score, unit, output / "search", console, trial_s, max_trials)
        cfg = grid.pop("best")
    searches_qps = scenario.tune.search == "qps-under-bound"
    confirm_cfg = cfg.replace(output=str(output), mode="performance", target_qps=None, user_conf=None)
    with harness.session(confirm_cfg, console) as session:
        if searches_qps:
            qps, why = _search_qps(session, trial_s, max_trials, max_qps, state["trials"], console)
            state.update(value=qps, why=why)
        else:
            state.update(_measure(session, trial_s, console))
        _write_conf(conf_path, cfg, scenario, state["value"], state["why"])
        console.print(f"[bold]wrote[/] {conf_path}; confirming with a full run")
        # The confirming run reads the user.conf exactly as `bench run --user-conf` would.
        session.cfg = session.cfg.replace(user_conf=str(conf_path), target_qps=None, mode="performance")
        measured = session.measure()
    record = codec.as_json(measured)  # as result.json holds it, now that the session wrote its ending
    confirmations = [_confirmation(record)]
    # A short run's p99 rests on few queries: if the real run disagrees, step down rather than report INVALID.
    while searches_qps and not record["performance"]["valid"] and len(confirmations) < CONFIRM_TRIES:
        state["value"] = float(f"{state['value'] * BACKOFF:.3g}")
        state["why"] += f"; confirming run INVALID, lowered by {1 - BACKOFF:.0%}"
        console.print(f"[yellow]confirming run INVALID ({'; '.join(record['performance']['invalid_reasons'])}): "
                      f"trying {state['value']:g} QPS[/]")
        _write_conf(conf_path, cfg, scenario, state["value"], state["why"])
        # The same settings given on the command line: a second user.conf read in one process makes LoadGen
        # log "Multiple conf files are used", an error the submission checker rejects.
        record = harness.run(confirm_cfg.replace(target_qps=state["value"]), console)
        confirmations.append(_confirmation(record))
    summary = {
        "scenario": cfg.scenario,
        "backend": cfg.backend,
        "model": cfg.model,
        "setting": scenario.tune.conf_key,
        "value": state["value"],
        "measured": state.get("measured"),
        "why": state["why"],
        "latency_bound_ms": cfg.latency_bound if scenario.has_latency_bound else None,
        "user_conf": str(conf_path),
        "trials": [asdict(t) for t in state["trials"]],
        "confirmations": confirmations,
        "configuration_search": grid,
        "valid": confirmations[-1]["valid"],
        "elapsed_s": round(time.perf_counter() - started, 1),
        # What reproduces the confirming run, every option included (results go to the default tree).
        "command": to_command(cfg, user_conf=str(conf_path), output=DEFAULTS["output"]),
    }
    atomic_write(output / "tune.json", json.dumps(summary, indent=2) + "\n")
    safe_names.own_file(output / "tune.json")
    return summary


def _grid_score(scenario, trial_s: float, max_qps: float | None):
    """How the configuration search scores one loaded configuration (higher is better), and the unit."""
    quiet = Console(file=io.StringIO())  # each trial's own lines would flood the search's
    if scenario.tune.search == "qps-under-bound":
        def score(session: harness.Session) -> float:
            try:
                return _search_qps(session, trial_s, GRID_QPS_TRIALS, max_qps, [], quiet)[0]
            except RunFailed as exc:  # no QPS passes with this batch, streams and threads: scores 0
                raise tune_grid.NothingPassed(str(exc).splitlines()[0]) from exc
        return score, "QPS passing the latency bound"
    figure = scenario.tune.figure

    def score(session: harness.Session) -> float:
        value = _measure(session, trial_s, quiet)["measured"]
        return value if figure == "samples_per_second" else 1000 / value  # a latency: lower is better
    return score, "samples/s" if figure == "samples_per_second" else f"queries/s (1000 / {figure} latency in ms)"


def _search_qps(session: harness.Session, trial_s: float, max_trials: int, max_qps: float | None,
                   trials: list[Trial], console: Console) -> tuple[float, str]:
    bound = session.cfg.latency_bound
    estimate = session.estimate.samples_per_second
    top = min(estimate, max_qps) if max_qps else estimate  # arrivals above the throughput can only queue up
    floor = lowest_qps(trial_s)
    if top < floor:
        raise RunFailed(f"the warm-up throughput ({estimate:,.3g} samples/s) is below the {floor:g} QPS a "
                        f"{trial_s:g} s short run can measure: give --trial-seconds {_seconds_for(top)}")
    lo, hi = max(top * 0.3, floor), top

    def attempt(qps: float) -> Trial:
        trial = _qps_trial(session, float(f"{qps:.3g}"), trial_s, len(trials) + 1)  # never rounded to 0
        trials.append(trial)
        colour = "green" if trial.passed else "red"
        console.print(f"  trial {len(trials)}: {trial.target_qps:,.2f} QPS -> [{colour}]"
                      f"{'pass' if trial.passed else 'fail'}[/] ({trial.why})")
        return trial

    console.print(f"[bold]tuning {session.scenario.loadgen_name}[/]: p99 bound {bound:g} ms; warm-up throughput "
                  f"{estimate:,.2f} samples/s, "
                  f"so the search starts in [{lo:,.2f}, {hi:,.2f}] QPS")
    while not attempt(lo).passed:  # the bottom of the bracket must pass
        if len(trials) >= 4 or lo <= floor:
            lower = (f"; below {floor:g} QPS a short run needs a longer --trial-seconds (it gathers "
                     f"{MIN_TRIAL_QUERIES} queries in {TRIAL_OVERRUN:g}x it)" if lo <= floor else "")
            raise RunFailed(f"even {lo:,.3g} QPS misses the {bound:g} ms p99 bound in short runs: raise "
                            f"--latency-bound-ms, or lower --batch-size / --max-wait-ms{lower}")
        hi, lo = lo, max(lo / 2, floor)
    best = trials[-1]
    if len(trials) == 1:  # the bottom passed at once: try the top, and beyond it while it passes (warm-up may
        target = hi        # be pessimistic), never past --max-qps
        while len(trials) < max_trials:
            t = attempt(target)
            if not t.passed:
                break
            best, lo = t, t.target_qps
            if max_qps and target >= max_qps:
                return best.target_qps, (f"passed at --max-qps {max_qps:g} (p99 {best.p99_ms:,.1f} ms, bound "
                                         f"{bound:g} ms); the search goes no higher")
            target = min(target * 1.5, max_qps) if max_qps else target * 1.5
        hi = target
    while len(trials) < max_trials and (hi - lo) / hi > TOLERANCE:
        t = attempt((lo + hi) / 2)
        if t.passed:
            best, lo = t, t.target_qps
        else:
            hi = t.target_qps
    above = [t.target_qps for t in trials if not t.passed and t.target_qps > best.target_qps]
    why = (f"highest of {len(trials)} short runs ({trial_s:g} s, at least {MIN_TRIAL_QUERIES} queries each) whose "
           f"p99 ({best.p99_ms:,.1f} ms) stayed under {P99_MARGIN:.0%} of the {bound:g} ms bound while keeping up "
           "with arrivals" + (f"; {min(above):,.2f} QPS did not" if above else ""))
    return best.target_qps, why


def lowest_qps(trial_s: float) -> float:
    """The lowest Server QPS a short run measures within its time: MIN_TRIAL_QUERIES in TRIAL_OVERRUN x trial_s.
    LoadGen checks its max_duration only when it issues a query, so a lower rate would wait for its arrivals."""
    return MIN_TRIAL_QUERIES / (TRIAL_OVERRUN * trial_s)


def _seconds_for(qps: float) -> str:
    """The --trial-seconds that lets a short run measure `qps` (rounded up), for a message's fix."""
    return f"{math.ceil(MIN_TRIAL_QUERIES / (TRIAL_OVERRUN * qps)):g}"


def check_max_qps(max_qps: float | None, trial_s: float) -> None:
    """Before anything loads: a --max-qps that no short run of --trial-seconds can measure stops here (exit 2)."""
    if max_qps is not None and max_qps < lowest_qps(trial_s):
        raise UsageError(f"--max-qps {max_qps:g} is below the {lowest_qps(trial_s):g} QPS a --trial-seconds "
                         f"{trial_s:g} short run can measure ({MIN_TRIAL_QUERIES} queries in {TRIAL_OVERRUN:g}x "
                         f"its seconds): give --max-qps {lowest_qps(trial_s):g} or more, or --trial-seconds "
                         f"{_seconds_for(max_qps)}")


def trial_bounds(trial_s: float, qps: float | None = None) -> dict:
    """LoadGen settings that hold a short run to about `trial_s` seconds, whatever its query count asks."""
    bounds = {"min_duration_ms": int(trial_s * 1000), "max_duration_ms": max(1, int(TRIAL_OVERRUN * trial_s * 1000))}
    if qps is not None:  # Server: enough queries for a p99, if the time allows them
        bounds["min_query_count"] = max(MIN_TRIAL_QUERIES, int(qps * trial_s))
    return bounds


def _qps_trial(session: harness.Session, qps: float, trial_s: float, number: int) -> Trial:
    cfg = session.cfg.replace(target_qps=qps, duration_s=trial_s)
    trial_dir = session.run_dir / "tune" / f"trial-{number:02d}"
    perf = session.loadgen("performance", root=trial_dir, cfg=cfg, overrides=trial_bounds(trial_s, qps))
    p99, done = perf["latency_ms"]["p99"], perf["samples_per_second"]
    bound = cfg.latency_bound
    if p99 is None or done is None:
        return Trial(qps, p99, done, False, "LoadGen logged no latency", str(trial_dir))
    if p99 > P99_MARGIN * bound:
        return Trial(qps, p99, done, False, f"p99 {p99:,.1f} ms > {P99_MARGIN:.0%} of {bound:g} ms", str(trial_dir))
    if done < KEEP_UP * qps:
        return Trial(qps, p99, done, False, f"completed only {done:,.2f}/s of {qps:,.2f}/s", str(trial_dir))
    return Trial(qps, p99, done, True, f"p99 {p99:,.1f} ms, completed {done:,.2f}/s", str(trial_dir))


def _measure(session: harness.Session, trial_s: float, console: Console) -> dict:
    """One short measuring run; the scenario's tune figure (samples/s, or a latency percentile) times its headroom."""
    target = session.scenario.tune
    cfg = session.cfg.replace(duration_s=trial_s)
    console.print(f"[bold]tuning {session.scenario.loadgen_name}[/]: one {trial_s:g} s measuring run")
    perf = session.loadgen("performance", root=session.run_dir / "tune" / "trial-01", cfg=cfg,
                           overrides=trial_bounds(trial_s))
    if target.figure == "samples_per_second":
        measured, unit = perf["samples_per_second"], "samples/s"
    else:
        measured, unit = perf["latency_ms"][target.figure], f"ms ({target.figure} latency)"
    if measured is None:
        raise RunFailed(f"the measuring run logged no {target.figure}: see {session.run_dir / 'tune'}")
    value = round(measured * target.headroom, 3)
    why = f"measured {measured:,.3f} {unit} in a {trial_s:g} s {session.scenario.loadgen_name} run"
    if target.headroom != 1:  # more samples (a higher rate) or more queries (a lower latency) than measured
        why += (f"; written as {target.headroom:.2f}x that so LoadGen generates enough work to fill the minimum "
                "duration")
    return {"value": value, "why": why, "measured": measured}


def _write_conf(path: Path, cfg: RunConfig, scenario, value: float, why: str) -> None:
    lines = [f"# written by `bench tune` for {cfg.model} on {cfg.backend} ({cfg.device}, {cfg.precision}, "
             f"batch {cfg.batch_size}, streams {cfg.extra.get('streams') or 1}, threads {cfg.threads or 'default'})",
             f"# why: {why}",
             f"{cfg.model}.{scenario.loadgen_name}.{scenario.tune.conf_key} = {value:g}"]
    if scenario.has_latency_bound:
        # LoadGen reads Server's target_latency as whole milliseconds; an explicit `--latency-bound-ms` wins over it.
        lines.append(f"{cfg.model}.{scenario.loadgen_name}.target_latency = {max(1, round(cfg.latency_bound))}")
    text = "\n".join(lines) + "\n"
    parse(text, str(path))  # what we write must be what `bench run --user-conf` reads
    atomic_write(path, text)
    safe_names.own_file(path)


def _confirmation(record: dict) -> dict:
    perf = record["performance"]
    return {"run_dir": record["run_dir"], "valid": perf["valid"], "loadgen_validity": perf["loadgen_validity"],
            "invalid_reasons": perf["invalid_reasons"], "metric": perf["result_metric"],
            "p99_ms": perf["latency_ms"]["p99"], "target_qps": perf.get("target_qps")}
