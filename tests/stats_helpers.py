"""Records for the statistics and index tests: copies of one real null-backend record with chosen figures.

A reader test needs figures it knows (a 25% shift, a regression); the shape comes from a real `bench run` record,
so every field a reader touches is there as the harness writes it. Written with the harness's own writer.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from bench.record import results
from bench.stats import figures

# Quick null runs: single-stream, a tiny dataset, 0.2 s timed.
NULL_RUN = ["--backend", "null", "--scenario", "single-stream", "--model", "resnet18", "--count", "16",
            "--batch-size", "1", "--threads", "1", "--duration", "0.2"]


def real_record(out: Path) -> dict:
    """One real null-backend record (no repeat), run into `out`: the shape every clone has."""
    from click.testing import CliRunner

    from bench.cli import cli

    result = CliRunner().invoke(cli, ["run", *NULL_RUN, "--output", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [path] = out.glob("*/result.json")
    return load(path)


def clone(template: dict, root: Path, name: str, value: float, *, series: str | None = None, index: int = 1,
          of: int = 1, config: dict | None = None, started_at: str | None = None, accuracy: dict | None = None,
          packages: dict | None = None) -> Path:
    """A copy of `template` as run `name` under `root`, its MLPerf metric (and samples/s) set to `value`."""
    record = copy.deepcopy(template)
    record["run_id"] = name
    record["config"].update(config or {})
    perf = record["performance"]
    perf["result_metric"]["value"] = value
    perf["samples_per_second"] = value if perf["result_metric"]["higher_is_better"] else 1000 / value
    if series is not None:
        record["repeat"] = {"config_id": figures.config_id(record["config"]), "index": index, "of": of,
                            "series": series, "rule": {"repeat": of}}
    else:
        record.pop("repeat", None)
    if started_at:
        record["started_at"] = started_at
    if accuracy is not None:
        record["accuracy"] = accuracy
    if packages:
        record["system"]["packages"].update(packages)
    if "precision" in (config or {}):
        record["backend"]["precision"] = config["precision"]
    if record["config"]["mode"] == "accuracy":
        record["performance"] = None
    run_dir = root / name
    run_dir.mkdir(parents=True)
    record["run_dir"] = str(run_dir)
    results.write(run_dir, record)
    return run_dir


def load(path: Path) -> dict:
    return json.loads(Path(path).read_text())
