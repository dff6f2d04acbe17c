"""The MLPerf Inference submission tree, assembled from result records: which runs go together, and where.

Layout (bench/mlperf/rounds.py says which round; see docs/mlperf.md):

    <out>/<division>/<submitter>/
      {code|src}/<model>/README.md                              points at this project and how to rerun
      systems/<system>.json                                     from the record's system info (FILL_IN.md: the rest)
      model_mapping.json                                        open division: each model folder -> "resnet"
      results/<system>/<model>/<Scenario>/performance/run_1/    mlperf_log_summary.txt, mlperf_log_detail.txt
      results/<system>/<model>/<Scenario>/accuracy/             mlperf_log_accuracy.json, accuracy.txt, logs
      v6.x: results/<system>/<model>/<Scenario>/                measurements.json, README.md, user.conf, TEST0x/
      v5.x: measurements/<system>/<model>/<Scenario>/           <system>_<implementation>_<Scenario>.json, ...
            compliance/<system>/<model>/<Scenario>/TEST0x/      where `bench audit` ran
    <out>/FILL_IN.md                                            what the submitter must still fill in or run
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import scenarios
from bench import safe_names
from bench.errors import UsageError
from bench.mlperf import rounds, submission_tree
from bench.mlperf.submission_tree import SYSTEM_FIELDS  # noqa: F401  (the checker's field list, for callers)
from bench.record import loadgen_log, results

BENCHMARK = submission_tree.BENCHMARK
DIVISIONS = ("closed", "open")
PERF_LOG = Path("loadgen") / "performance" / "mlperf_log_detail.txt"
ACCURACY_LOG = Path("loadgen") / "accuracy" / "mlperf_log_accuracy.json"
# Options that tell two configurations of one machine apart in a system id, when runs of one scenario differ in them.
DISTINGUISHING = (("batch_size", "b"), ("gpu_streams", "streams"), ("threads", "t"), ("device", ""))


@dataclass
class Entry:
    """One system, model and scenario: the runs that fill its folders."""

    system: str
    model: str
    scenario: str
    performance: dict | None = None
    accuracy: dict | None = None
    audits: dict[str, Path] = field(default_factory=dict)


def _setting(record: dict, name: str):
    cfg = record["config"]
    return cfg.get(name, (cfg.get("extra") or {}).get(name))


def pairing_key(record: dict) -> dict:
    """What must match for a performance and an accuracy run to be one result."""
    cfg, model = record["config"], record.get("model") or {}
    return {"model": cfg.get("model"), "weights id": model.get("weights_id") or cfg.get("weights"),
            "precision": cfg.get("precision", "fp32"),
            "preprocessing": model.get("preprocessing") or cfg.get("preprocessing"),
            "backend": cfg.get("backend"), "device": cfg.get("device"),
            "backend options": cfg.get("extra") or {}}


def system_ids(records: list[dict], override: str | None) -> list[str]:
    """A folder-safe system id per record: the user's, else `<system name>_<backend>[_<precision>]`, plus each
    setting (batch, streams, threads, device) in which two runs of one scenario on that machine differ."""
    if override:
        return [safe_names.component(override, "--system")] * len(records)
    bases = []
    for record in records:
        cfg = record["config"]
        base = f"{(record.get('system') or {}).get('system_name') or 'system'}_{cfg['backend']}"
        bases.append(base + (f"_{cfg['precision']}" if cfg.get("precision", "fp32") != "fp32" else ""))
    ids = []
    for base, record in zip(bases, records):
        same = [r for b, r in zip(bases, records) if b == base and r["config"]["scenario"] == record["config"]["scenario"]
                and r["config"].get("model") == record["config"].get("model")]
        suffix = "".join(f"_{tag}{_setting(record, name)}" for name, tag in DISTINGUISHING
                         if len({str(_setting(r, name)) for r in same}) > 1)
        ids.append(safe_names.slug(base + suffix))
    return ids


def collect(results_dir: str | Path, division: str, system: str | None) -> dict[tuple[str, str, str], Entry]:
    """Per system, model and scenario: the newest performance run (VALID first), accuracy run and audits."""
    records, refused = [], []
    for run_dir in results.find_runs([results_dir]):
        record = results.load(run_dir)
        record["run_dir"] = str(run_dir)
        cfg = record["config"]
        if record["status"] != "complete" or cfg.get("scenario") not in scenarios.SCENARIOS:
            continue
        synthetic = cfg.get("synthetic_weights") or cfg.get("synthetic_data")
        unknown_file = cfg.get("onnx") and not (record.get("model") or {}).get("known_model")  # not the known ResNet-50
        if division == "closed" and (cfg.get("model") != BENCHMARK or synthetic or unknown_file):
            refused.append(f"{run_dir.name} ({cfg.get('model')}, {'synthetic' if synthetic else 'real'})")
            continue
        records.append(record)
    if not records:
        why = f"; refused for the closed division (it needs {BENCHMARK} with real weights and ImageNet): " \
              f"{', '.join(refused)}" if refused else ""
        raise UsageError(f"no complete runs under {results_dir}{why}. Run `bench run` (and `bench run --mode accuracy`)"
                         " first, or use --division open")
    entries: dict[tuple[str, str, str], Entry] = {}
    for sys_id, record in zip(system_ids(records, system), records):
        run_dir = Path(record["run_dir"])
        key = (sys_id, safe_names.slug(str(record["config"]["model"])), scenarios.get(record["config"]["scenario"]).submission_dir)
        entry = entries.setdefault(key, Entry(*key))
        if record.get("performance") and (run_dir / PERF_LOG).exists():
            if entry.performance is None or _perf_rank(record) >= _perf_rank(entry.performance):
                entry.performance = record
        if record.get("accuracy") and (run_dir / ACCURACY_LOG).exists():
            if entry.accuracy is None or _finished(record) >= _finished(entry.accuracy):
                entry.accuracy = record
        for test in record.get("audit") or {}:
            # The test's name becomes a folder the tree writer replaces: one safe component, or the record is refused.
            safe_names.component(test, f"{run_dir / 'result.json'}: audit test", "Remove that audit entry from the "
                                 "record, or move the run out of --results")
            if (run_dir / "compliance" / test).is_dir():
                entry.audits[test] = run_dir / "compliance" / test
    for entry in entries.values():
        check_pair(entry)
    return entries


def _finished(record: dict) -> str:
    return record.get("finished_at") or ""


def _perf_rank(record: dict) -> tuple:
    return bool(record["performance"].get("valid")), _finished(record)


def check_pair(entry: Entry) -> None:
    """Refuse a performance and an accuracy run that are not one configuration, naming both."""
    if entry.performance is None or entry.accuracy is None or entry.performance is entry.accuracy:
        return
    perf, acc = pairing_key(entry.performance), pairing_key(entry.accuracy)
    differ = [k for k in perf if perf[k] != acc[k]]
    if differ:
        raise UsageError(
            f"{entry.system}/{entry.model}/{entry.scenario}: performance run {entry.performance['run_id']} and "
            f"accuracy run {entry.accuracy['run_id']} differ in " + "; ".join(
                f"{k} ({perf[k]} vs {acc[k]})" for k in differ)
            + ". Rerun one of them with the other's options, or move the run you do not submit out of --results")


def build(results_dir: str | Path, out: str | Path, submitter: str, division: str, system: str | None = None,
          system_type: str | None = None, version: str | None = None) -> dict:
    """Write the tree; returns {root, version, systems, suites, notes, scenarios, missing, fill_in, complete}."""
    if division not in DIVISIONS:
        raise UsageError(f"--division must be one of {', '.join(DIVISIONS)}, got {division!r}")
    safe_names.component(submitter, "--submitter", "Give the organisation's name, e.g. --submitter Acme_Corp")
    if system is not None:
        safe_names.component(system, "--system")
    if system_type is not None and system_type not in rounds.SUITES:
        raise UsageError(f"--system-type must be one of {', '.join(rounds.SUITES)}, got {system_type!r}")
    entries = collect(results_dir, division, system)
    seeds = {s for e in entries.values() if e.performance and (s := _seeds(e.performance))}
    chosen = rounds.choose(version, seeds)
    suites = {sys_id: system_type or _system_type(entries, sys_id, chosen) for sys_id, _, _ in entries}
    for suite in set(suites.values()):
        chosen.scenarios(suite)  # refuses a suite this round has no ResNet-50 in
    # A scenario outside the system's suite is an error to the checker ("unknown scenarios"): left out, and said.
    left_out = {k: e for k, e in entries.items() if k[2] not in chosen.scenarios(suites[k[0]])}
    entries = {k: e for k, e in entries.items() if k not in left_out}
    if not entries:
        raise UsageError(f"no runs of the {', '.join(sorted(set(suites.values())))} suite's scenarios under "
                         f"{results_dir}: choose --system-type for the scenarios you ran")
    notes = [f"{s}/{m}/{c}: left out, not a scenario of the {suites[s]} suite (--system-type datacenter,edge "
             "takes it)" for s, m, c in sorted(left_out)]
    root = safe_names.inside(out, division, submitter)
    try:
        safe_names.check_under(Path(out), root)  # a link at <out>/<division> would carry the tree elsewhere
    except ValueError as exc:
        raise UsageError(f"--out {out}: {exc}. Give an --out whose {division}/ folder is a real directory")
    # Written beside the old tree and swapped in whole: no file of an earlier build (a scenario since left
    # out, another model) survives into this one, and a failed build leaves the old tree as it was. Only a tree
    # bench wrote (its marker inside) is replaced; anything else there is refused before a file is touched.
    safe_names.check_replaceable(root, "submission tree", "Move it away, or choose another --out")
    safe_names.check_overwritable(Path(out) / "FILL_IN.md", "--out's", "Move it away, or choose another --out")
    draft = root.with_name(f".{submitter}.partial")
    safe_names.remove_owned(draft, "the draft")  # a crashed build's, or refused if someone else's
    safe_names.claim(draft)
    try:
        missing, fill_in = _write_draft(draft, entries, division, submitter, suites, chosen)
    except BaseException:  # a failed build leaves no draft for the checker to take for a submitter
        safe_names.remove_owned(draft, "the draft")
        raise
    safe_names.remove_owned(root, "submission tree")
    safe_names.move_owned(draft, root)
    submission_tree.write_fill_in(Path(out), root, fill_in, missing, notes, chosen)
    suites = {s: t for s, t in suites.items() if any(k[0] == s for k in entries)}
    return {"root": str(root), "version": chosen.name, "systems": sorted(suites), "suites": suites, "notes": notes,
            "scenarios": sorted(f"{s}/{m}/{c}" for s, m, c in entries), "missing": missing, "fill_in": fill_in,
            "complete": not missing}


def _write_draft(draft: Path, entries: dict, division: str, submitter: str, suites: dict, chosen) -> tuple:
    """Every folder of the tree into `draft`; returns (what is missing, the fields to fill in)."""
    missing: list[str] = []
    for entry in sorted(entries.values(), key=lambda e: (e.system, e.model, e.scenario)):
        missing += submission_tree.write_entry(draft, entry, division, chosen)
    for sys_id, model in sorted({(s, m) for s, m, _ in entries}):
        ran = {c for s, m, c in entries if (s, m) == (sys_id, model)}
        for scenario in chosen.scenarios(suites[sys_id]):
            if scenario not in ran:
                missing.append(f"{sys_id}/{model}/{scenario}: no run, and the {suites[sys_id]} suite of "
                               f"{chosen.name} requires it (`bench run --scenario {scenarios.by_loadgen_name(scenario).name}`)")
    return missing, submission_tree.write_common(draft, entries, division, submitter, suites, chosen)


def _seeds(record: dict) -> tuple[int, int, int] | None:
    """The run's LoadGen seeds: from its record, or for a record made before they were kept, its detail log."""
    found = rounds.seeds_of(record["performance"])
    if found is None:
        detail = loadgen_log.read_detail(Path(record["run_dir"]) / PERF_LOG)
        found = rounds.seeds_of({"seeds": {k: detail.get(f"effective_{k}_rng_seed") for k in rounds.SEED_KEYS}})
    return found


def _system_type(entries: dict, sys_id: str, chosen: rounds.Round) -> str:
    """The suite of the scenarios this system ran: edge, or with Server datacenter (with edge where the round
    has ResNet-50 only there)."""
    ran = {c for s, _, c in entries if s == sys_id}
    edge, datacenter = set(scenarios.suite("edge")), set(scenarios.suite("datacenter"))
    edge_only = edge - datacenter
    if not ran & (datacenter - edge):
        return "edge"
    if ran & edge_only or "datacenter" not in chosen.resnet:
        return "datacenter,edge"
    return "datacenter"
