"""`bench compare`'s verdicts: runs grouped into configurations, each against the first of its scenario, with the
ratio's 95% interval, a verdict (bench/stats/ratio.py), and the accuracy run that gates each figure.

A configuration is every repeat run (records with `repeat`) of one configuration id on one system; a record without
`repeat` (any record written before repeats existed, or a plain `bench run`) is a configuration of its own, and its
comparisons are labelled single-run. The baseline is the first configuration given (the first path's runs).

Accuracy gate: an accuracy run (mode accuracy or both) of the same model, weights, backend and precision whose
verdict is PASS, among the records given. `--require-accuracy` refuses to rank configurations without one.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.errors import UsageError
from bench.stats import figures, ratio, stability

COMPARED = (figures.METRIC, "latency_p99_ms")  # MLPerf's own figure, and the tail every scenario has


def _order(found, paths) -> list[tuple[Path, dict]]:
    """Records in the order of the paths given (the first path's runs first), then by path. Readers give resolved
    run directories, so only the roots are resolved here (a resolve per run costs seconds over thousands)."""
    roots = [str(Path(p).resolve()) for p in paths]

    def rank(item):
        run_dir = os.path.abspath(item[0])
        hits = [i for i, root in enumerate(roots) if run_dir == root or run_dir.startswith(root + os.sep)]
        return (hits[0] if hits else len(roots), run_dir)

    return sorted(found, key=rank)


def groups(found, paths) -> list[dict]:
    """Configurations in first-seen order: {key, label, records, scenario, identity}."""
    by_key: dict[tuple, dict] = {}
    for _run_dir, record in _order(found, paths):
        if not figures.measured(record):
            continue
        block = figures.repeat(record)
        key = ("config", block["config_id"], figures.system(record)) if block else ("single", record["run_id"])
        cfg = record.get("config") or {}
        ident = block["config_id"] if block else record["run_id"]
        label = f"{ident}: {figures.system(record)} {cfg.get('backend')}/{cfg.get('precision')} " \
                f"{cfg.get('scenario')} batch {cfg.get('batch_size')} threads {cfg.get('threads') or 'default'}"
        c = by_key.setdefault(key, {"key": key, "id": ident, "label": label, "records": [], "heads": [],
                                    "scenario": figures.scenario(record), "identity": figures.accuracy_identity(record)})
        c["records"].append(record)
        c["heads"].append(figures.headline(record))  # read once: every comparison of it uses them
    return list(by_key.values())


def gates(found) -> dict[tuple, dict]:
    """identity -> its gate {passed, run_id, text}: the first passing accuracy record of it, else those seen."""
    passed: dict[tuple, dict] = {}
    seen: dict[tuple, list[str]] = {}
    for _run_dir, record in found:  # one pass: a compare over thousands of runs asks once per configuration
        acc = figures.accuracy(record)
        if acc is None or record.get("status") != "complete":
            continue
        identity = figures.accuracy_identity(record)
        if acc["passed"] is True:
            passed.setdefault(identity, {"passed": True, "run_id": record["run_id"],
                                         "text": f"{record['run_id']} PASS"})
        else:
            verdict = acc["verdict"] or ("synthetic" if acc["synthetic"] else "no verdict")
            seen.setdefault(identity, []).append(f"{record['run_id']} {verdict}")
    return {**{i: {"passed": False, "run_id": None, "text": f"none passed ({', '.join(s)})"} for i, s in seen.items()},
            **passed}


NO_GATE = {"passed": False, "run_id": None, "text": "none"}


def _unstable(records: list[dict], name: str) -> str | None:
    """Why a configuration is not to be averaged: a --until-stable series of it that did not settle; else None."""
    by_series: dict[str, list[dict]] = {}
    for record in records:
        by_series.setdefault((figures.repeat(record) or {}).get("series") or "", []).append(record)
    for series, mine in by_series.items():
        rule = (figures.repeat(mine[0]) or {}).get("rule") or {}
        if "until_stable" not in rule:
            continue
        mine = sorted(mine, key=lambda r: (figures.repeat(r) or {}).get("index") or 0)
        values = [h[name]["value"] for h in map(figures.headline, mine) if name in h]
        check = stability.check(values, rule["until_stable"], rule.get("window", stability.WINDOW))
        if not check["stable"]:
            spread = check["spread_percent"]
            return (f"series {series}: last {check['window']} runs within "
                    f"{spread if spread is not None else '—'}%, not {rule['until_stable']}%")
    return None


def rows(found, paths, require_accuracy: bool = False, configs: list[dict] | None = None) -> list[dict]:
    """One row per (scenario, figure, configuration after the baseline). Raises UsageError under
    --require-accuracy when a configuration has no passing accuracy run (before anything is ranked).
    `configs`: groups(found, paths) when the caller has them (a report over thousands of runs groups once)."""
    configs = groups(found, paths) if configs is None else configs
    table = gates(found)
    for c in configs:
        c["gate"] = table.get(c["identity"], NO_GATE)
    if require_accuracy and (ungated := [c for c in configs if not c["gate"]["passed"]]):
        names = "; ".join(f"{c['label']} (model {c['identity'][0]}, weights {c['identity'][1]}, "
                          f"backend {c['identity'][2]}, precision {c['identity'][3]})" for c in ungated)
        raise UsageError(f"--require-accuracy: no passing accuracy run for {names}. Run `bench run --mode accuracy` "
                         "with the same model, weights, backend and precision on real data and give its directory "
                         "too, or drop --require-accuracy")
    out = []
    for scenario in dict.fromkeys(c["scenario"] for c in configs):
        here = [c for c in configs if c["scenario"] == scenario]
        base = here[0]
        for other in here[1:]:
            for name in COMPARED:
                a = [f for h in base["heads"] if (f := h.get(name))]
                b = [f for h in other["heads"] if (f := h.get(name))]
                if not a or not b or a[0]["key"] != b[0]["key"]:
                    continue  # a ratio only between the same figure
                va, vb = [f["value"] for f in a], [f["value"] for f in b]
                result = ratio.compare(va, vb, a[0]["higher_is_better"])
                why = [w for w in (_unstable(base["records"], name), _unstable(other["records"], name)) if w]
                if why:  # never a confident verdict from a series that did not settle
                    result = {**result, "ci95": None, "verdict": "unstable", "runs_needed": None}
                out.append({"scenario": scenario, "figure": f"{a[0]['name']} ({a[0]['unit']})", "a": base["id"],
                            "b": other["id"], "result": result, "unstable": "; ".join(why) or None,
                            "gate_a": base["gate"]["text"], "gate_b": other["gate"]["text"]})
    return out


def legend(found, paths, configs: list[dict] | None = None) -> list[tuple[str, bool]]:
    """(line, gated) per configuration: its id, what it is, how many runs, and the accuracy run that gates it."""
    out = []
    table = gates(found)
    for c in groups(found, paths) if configs is None else configs:
        g = table.get(c["identity"], NO_GATE)
        n = len(c["records"])
        out.append(((f"{c['label']}; {n} run{'s' if n > 1 else ''}{'' if c['key'][0] == 'config' else ' (single-run)'}"
                    f"; accuracy gate: {g['text']}"), g["passed"]))
    return out
