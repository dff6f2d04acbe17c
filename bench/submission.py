"""The MLPerf Inference submission tree for ResNet-50, assembled from result records.

Layout (MLPerf Inference v5.0/v5.1, the last rounds with ResNet-50 in both suites; see README "Submission"):

    <out>/<division>/<submitter>/
      code/resnet50/README.md                                   points at this project and how to rerun
      systems/<system>.json                                     from the record's system info (FILL_IN.md: the rest)
      results/<system>/resnet50/<Scenario>/performance/run_1/   mlperf_log_summary.txt, mlperf_log_detail.txt
      results/<system>/resnet50/<Scenario>/accuracy/            mlperf_log_accuracy.json, accuracy.txt, logs
      measurements/<system>/resnet50/<Scenario>/                <system>_<implementation>_<Scenario>.json,
                                                                README.md, user.conf
      compliance/<system>/resnet50/<Scenario>/TEST0x/           where `bench audit` ran
    <out>/FILL_IN.md                                            what the submitter must still fill in
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import scenarios
from bench import __version__, accuracy, results, snapshot
from bench.cache import atomic_write, file_sha256
from bench.errors import UsageError
from bench.options import DEFAULTS, to_command

BENCHMARK = "resnet50"
DIVISIONS = ("closed", "open")
VERSIONS = ("v5.0", "v5.1", "v6.0")
PERF_FILES = ("mlperf_log_summary.txt", "mlperf_log_detail.txt")
ACCURACY_FILES = ("mlperf_log_accuracy.json", "mlperf_log_summary.txt", "mlperf_log_detail.txt")
# Every field the MLCommons submission checker requires in systems/<system>.json.
SYSTEM_FIELDS = (
    "division", "submitter", "status", "system_name", "system_type", "system_type_detail", "number_of_nodes",
    "host_processor_model_name", "host_processors_per_node", "host_processor_core_count",
    "host_processor_frequency", "host_processor_caches", "host_processor_interconnect", "host_memory_capacity",
    "host_memory_configuration", "host_storage_capacity", "host_storage_type", "host_networking",
    "host_networking_topology", "host_network_card_count", "accelerators_per_node", "accelerator_model_name",
    "accelerator_memory_capacity", "accelerator_frequency", "accelerator_host_interconnect",
    "accelerator_interconnect", "accelerator_interconnect_topology", "accelerator_memory_configuration",
    "accelerator_on-chip_memories", "cooling", "framework", "operating_system", "other_software_stack",
    "hw_notes", "sw_notes",
)
# Fields no probe can know; FILL_IN.md lists them (with any other field left empty).
HUMAN_FIELDS = ("status", "host_processors_per_node", "host_processor_caches", "host_processor_interconnect",
                "host_memory_configuration", "host_storage_capacity", "host_storage_type", "host_networking",
                "host_networking_topology", "host_network_card_count", "cooling", "system_type_detail")


@dataclass
class Entry:
    """One system and scenario: the runs that fill its folders."""

    system: str
    scenario: str
    performance: dict | None = None
    accuracy: dict | None = None
    audits: dict[str, Path] = field(default_factory=dict)


def system_id(record: dict, override: str | None) -> str:
    """A folder-safe system name: the user's, else `<system name>_<backend>[_<precision>]` from the record."""
    if override:
        base = override
    else:
        cfg = record["config"]
        base = f"{(record.get('system') or {}).get('system_name') or 'system'}_{cfg['backend']}"
        if cfg.get("precision", "fp32") != "fp32":
            base += f"_{cfg['precision']}"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", base)


def collect(results_dir: str | Path, division: str, system: str | None) -> dict[tuple[str, str], Entry]:
    """The newest complete run per system and scenario for performance (VALID first) and for accuracy."""
    entries: dict[tuple[str, str], Entry] = {}
    refused = []
    for run_dir in results.find_runs([results_dir]):
        record = results.load(run_dir)
        record["run_dir"] = str(run_dir)
        cfg = record["config"]
        if record["status"] != "complete" or cfg.get("scenario") not in scenarios.SCENARIOS:
            continue
        if division == "closed" and (cfg.get("model") != BENCHMARK or cfg.get("synthetic_weights")
                                     or (cfg.get("onnx") and not (record.get("model") or {}).get("known_model"))
                                     or cfg.get("synthetic_data")):
            refused.append(f"{run_dir.name} ({cfg.get('model')}, "
                           f"{'synthetic' if cfg.get('synthetic_weights') or cfg.get('synthetic_data') else 'real'})")
            continue
        key = (system_id(record, system), scenarios.get(cfg["scenario"]).submission_dir)
        entry = entries.setdefault(key, Entry(*key))
        perf = record.get("performance")
        if perf and (run_dir / "loadgen" / "performance" / PERF_FILES[1]).exists():
            rank = (bool(perf.get("valid")), record.get("finished_at") or "")
            if entry.performance is None or rank >= _perf_rank(entry.performance):
                entry.performance = record
        if record.get("accuracy") and (run_dir / "loadgen" / "accuracy" / ACCURACY_FILES[0]).exists():
            if entry.accuracy is None or (record.get("finished_at") or "") >= (entry.accuracy.get("finished_at") or ""):
                entry.accuracy = record
        for test, verdict in (record.get("audit") or {}).items():
            if (run_dir / "compliance" / test).is_dir():
                entry.audits[test] = run_dir / "compliance" / test
    if not entries:
        why = f"; refused for the closed division (it needs {BENCHMARK} with real weights and ImageNet): " \
              f"{', '.join(refused)}" if refused else ""
        raise UsageError(f"no complete runs under {results_dir}{why}. Run `bench run` (and `bench run --mode accuracy`)"
                         " first, or use --division open")
    return entries


def _perf_rank(record: dict) -> tuple:
    return bool(record["performance"].get("valid")), record.get("finished_at") or ""


def build(results_dir: str | Path, out: str | Path, submitter: str, division: str,
          system: str | None = None, system_type: str | None = None, version: str = "v5.1") -> dict:
    """Write the tree; returns {root, systems, scenarios, missing, fill_in} (what FILL_IN.md also lists).

    `version` v5.1 (and v5.0) keeps measurements/ and compliance/ beside results/; v6.0, whose seeds the
    LoadGen 6 wheel's mlperf.conf carries, moves both into results/<system>/<benchmark>/<Scenario>/.
    """
    if version not in VERSIONS:
        raise UsageError(f"--version must be one of {', '.join(VERSIONS)}, got {version!r}")
    if division not in DIVISIONS:
        raise UsageError(f"--division must be one of {', '.join(DIVISIONS)}, got {division!r}")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", submitter):
        raise UsageError(f"--submitter {submitter!r}: use letters, digits, '_', '.' or '-' (it names a folder)")
    entries = collect(results_dir, division, system)
    root = Path(out) / division / submitter
    root.mkdir(parents=True, exist_ok=True)
    missing: list[str] = []
    systems: dict[str, dict] = {}
    for (sys_id, scenario), entry in sorted(entries.items()):
        systems.setdefault(sys_id, (entry.performance or entry.accuracy))
        where = f"{sys_id}/{scenario}"
        res = root / "results" / sys_id / BENCHMARK / scenario
        if entry.performance:
            _copy(Path(entry.performance["run_dir"]) / "loadgen" / "performance", res / "performance" / "run_1",
                  PERF_FILES)
            if not entry.performance["performance"].get("valid"):
                missing.append(f"{where}: the newest performance run is INVALID ({entry.performance['run_id']})")
        else:
            missing.append(f"{where}: no performance run (`bench run --scenario ...`)")
        if entry.accuracy:
            src = Path(entry.accuracy["run_dir"]) / "loadgen" / "accuracy"
            _copy(src, res / "accuracy", ACCURACY_FILES)
            # The checker wants the accuracy log's sha256 as a `hash=` line, as MLPerf's run scripts append it.
            acc = entry.accuracy["accuracy"]
            atomic_write(res / "accuracy" / accuracy.TXT, accuracy.accuracy_txt(
                acc["correct"], acc["count"], file_sha256(res / "accuracy" / ACCURACY_FILES[0])))
        else:
            missing.append(f"{where}: no accuracy run (`bench run --mode accuracy` with ImageNet)")
        run = entry.performance or entry.accuracy
        conf = user_conf(run)
        res.mkdir(parents=True, exist_ok=True)
        atomic_write(res / "user.conf", conf)
        split = version in ("v5.0", "v5.1")
        meas = root / "measurements" / sys_id / BENCHMARK / scenario if split else res
        meas.mkdir(parents=True, exist_ok=True)
        name = f"{sys_id}_{_implementation(run)}_{scenario}.json" if split else "measurements.json"
        atomic_write(meas / name, json.dumps(measurements(run), indent=2) + "\n")
        atomic_write(meas / "user.conf", conf)
        atomic_write(meas / "README.md", measurement_readme(entry, run, division))
        for test, src in sorted(entry.audits.items()):
            dest = (root / "compliance" / sys_id / BENCHMARK / scenario if split else res) / test
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(src, dest)
        if division == "closed":
            for test in ("TEST01", "TEST04"):
                if test not in entry.audits:
                    missing.append(f"{where}: no {test} audit (`bench audit {test} --scenario ...`)")
    fill_in: dict[str, list[str]] = {}
    (root / "systems").mkdir(exist_ok=True)
    for sys_id, record in systems.items():
        desc = system_description(record, submitter, division, system_type or _system_type(entries, sys_id))
        atomic_write(root / "systems" / f"{sys_id}.json", json.dumps(desc, indent=2) + "\n")
        fill_in[sys_id] = [k for k, v in desc.items() if v in ("", None)]
    code = root / ("src" if version == "v6.0" else "code") / BENCHMARK  # v6.0's checker looks in src/
    code.mkdir(parents=True, exist_ok=True)
    atomic_write(code / "README.md", code_readme())
    atomic_write(Path(out) / "FILL_IN.md", fill_in_text(root, fill_in, missing, version))
    return {"root": str(root), "systems": sorted(systems), "scenarios": sorted(f"{s}/{c}" for s, c in entries),
            "missing": missing, "fill_in": fill_in}


def _copy(src: Path, dest: Path, names) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        if (src / name).exists():
            shutil.copy2(src / name, dest / name)


def user_conf(record: dict) -> str:
    """The run's own user.conf, else one that states the settings it ran with (the checker wants the file)."""
    cfg = record["config"]
    if (used := snapshot.user_conf(record, record["run_dir"])) is not None:  # issue 18: the file as the run read it
        return used
    if cfg.get("user_conf") and Path(cfg["user_conf"]).is_file():
        return Path(cfg["user_conf"]).read_text()
    perf = record.get("performance") or {}
    lines = [f"# settings of bench run {record['run_id']} (profile {cfg.get('profile')})"]
    lines += scenarios.get(cfg["scenario"]).conf_lines(BENCHMARK, perf)
    return "\n".join(lines) + "\n"


def _implementation(record: dict) -> str:
    cfg = record["config"]
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"bench-{cfg['backend']}-{cfg.get('precision', 'fp32')}")


def measurements(record: dict) -> dict:
    """The per-run JSON the checker requires (input and weight types, retraining, weights file, transforms)."""
    cfg, model = record["config"], record.get("model") or {}
    precision = (record.get("backend") or {}).get("precision") or cfg.get("precision", "fp32")
    if model.get("onnx") or cfg.get("onnx"):
        weights = Path(model.get("onnx") or cfg["onnx"]).name
    elif cfg.get("weights") and cfg["weights"] != "synthetic":
        weights = Path(cfg["weights"]).name
    else:
        weights = f"synthetic (seeded random, seed {cfg.get('seed', 0)}): performance only"
    transformations = {"int8": "post-training static quantization (per-tensor, calibration set)",
                       "bf16": "cast to bf16", "fp16": "cast to fp16"}.get(precision, "none")
    if not (model.get("onnx") or cfg.get("onnx")) and cfg["backend"] != "torch":
        transformations += "; exported from PyTorch to ONNX (opset 17)"
    return {
        "input_data_types": "fp32",
        "retraining": "No",
        "starting_weights_filename": weights,
        "weight_data_types": precision,
        "weight_transformations": transformations,
    }


def measurement_readme(entry: Entry, record: dict, division: str) -> str:
    cfg = record["config"]
    # The run's own options, every one (bench/options.py), with this folder's user.conf; results go to the default tree.
    command = partial(to_command, cfg, output=DEFAULTS["output"])
    lines = [f"# ResNet-50 {entry.scenario} on {entry.system}", "",
             f"Implementation: `bench` {__version__} (backend `{cfg['backend']}`), see code/{BENCHMARK}/README.md.", "",
             "## Reproduce", "", "```", command(mode="performance", user_conf="user.conf"),
             command(mode="accuracy", user_conf=None), "```", "",
             "## Runs in this folder", ""]
    if entry.performance:
        perf = entry.performance["performance"]
        lines.append(f"- performance: {entry.performance['run_id']}: {perf['result_metric']['name']} = "
                     f"{perf['result_metric']['value']}, LoadGen {perf['loadgen_validity']}")
    if entry.accuracy:
        acc = entry.accuracy["accuracy"]
        lines.append(f"- accuracy: {entry.accuracy['run_id']}: "
                     f"{accuracy.accuracy_txt(acc['correct'], acc['count']).strip()}")
    for test in sorted(entry.audits):
        lines.append(f"- compliance {test}: compliance/{entry.system}/{BENCHMARK}/{entry.scenario}/{test}")
    if cfg.get("synthetic_weights") or cfg.get("synthetic_data"):
        lines += ["", "Synthetic weights or images: this is a performance-only result, open division at most."]
    if cfg["model"] != BENCHMARK:
        lines += ["", f"Model actually run: {cfg['model']} (open division: not the reference {BENCHMARK})."]
    return "\n".join(lines) + "\n"


def _system_type(entries: dict, sys_id: str) -> str:
    """The suites whose own scenarios (beyond those both share) this system ran."""
    ran = {c for s, c in entries if s == sys_id}
    own = {t: set(scenarios.suite(t)) - set(scenarios.suite("datacenter" if t == "edge" else "edge"))
           for t in ("datacenter", "edge")}
    types = [t for t in ("datacenter", "edge") if own[t] & ran]
    return ",".join(types) or "edge"


def system_description(record: dict, submitter: str, division: str, system_type: str) -> dict:
    """systems/<system>.json from what the record knows; the rest is left "" and listed in FILL_IN.md."""
    info, backend = record.get("system") or {}, record.get("backend") or {}
    gpus = info.get("gpus") or []
    packages = info.get("packages") or {}
    framework = f"{backend.get('name') or record['config']['backend']} {backend.get('version', '')}".strip()
    desc = {k: "" for k in SYSTEM_FIELDS}
    desc.update({
        "division": division,
        "submitter": submitter,
        "system_name": info.get("system_name") or "",
        "system_type": system_type,
        "number_of_nodes": 1,
        "host_processor_model_name": info.get("cpu") or "",
        "host_processor_core_count": info.get("cores") or "",
        "host_processor_frequency": str(info.get("cpu_mhz") or info.get("frequency_mhz") or ""),
        "host_memory_capacity": f"{info['memory_gb']} GB" if info.get("memory_gb") else "",
        "accelerators_per_node": str(len(gpus)),  # a string: the checker takes 0 for an empty field
        "accelerator_model_name": gpus[0].get("name", "") if gpus else "N/A",
        "accelerator_memory_capacity": (f"{gpus[0].get('memory_gb') or gpus[0].get('memory_total_gb') or ''} GB"
                                        if gpus else "N/A"),
        "framework": framework,
        "operating_system": info.get("os") or "",
        "other_software_stack": ", ".join(f"{k} {v}" for k, v in sorted(packages.items())) or
                                f"Python {info.get('python', '')}",
        "hw_notes": f"CPU flags: {' '.join(info.get('cpu_flags') or [])}" if info.get("cpu_flags") else "",
        "sw_notes": f"bench {__version__}; Python {info.get('python', '')}",
    })
    if not gpus:
        for key in ("accelerator_frequency", "accelerator_host_interconnect", "accelerator_interconnect",
                    "accelerator_interconnect_topology", "accelerator_memory_configuration",
                    "accelerator_on-chip_memories"):
            desc[key] = "N/A"
    for key in HUMAN_FIELDS:
        desc[key] = ""
    return desc


def code_readme() -> str:
    commit = _git_commit()
    return "\n".join([
        f"# ResNet-50 implementation: bench {__version__}", "",
        "The harness that produced these results is the `bench` project (MLPerf-style ResNet-50 benchmark over "
        "MLCommons LoadGen with pluggable backends). Its source is the repository this tree was built from"
        + (f", commit `{commit}`." if commit else "."), "",
        "Install it and rerun a scenario as the measurements/ README of each result says, for example:", "",
        "```", "pip install '.[cpu]'", "bench run --backend onnxruntime --scenario offline --user-conf user.conf",
        "bench run --backend onnxruntime --scenario offline --mode accuracy --dataset IMAGENET_VAL_DIR",
        "bench audit TEST01 TEST04 --backend onnxruntime --scenario offline", "```", ""])


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def fill_in_text(root: Path, fill_in: dict[str, list[str]], missing: list[str], version: str) -> str:
    lines = [f"# Before submitting {root}", "",
             "## Fields to fill in systems/<system>.json", "",
             "No probe can know these (status is one of available, preview, rdi):", ""]
    for sys_id, keys in fill_in.items():
        lines.append(f"- systems/{sys_id}.json: " + ", ".join(keys))
    lines += ["", "## Missing or not yet submittable", ""]
    lines += [f"- {m}" for m in missing] or ["- nothing"]
    lines += ["", "## Check it", "",
              "Run the MLCommons submission checker from a checkout of mlcommons/inference:", "", "```",
              f"cd tools/submission && python3 -m submission_checker.main --input {root.parent.parent.resolve()} "
              f"--version {version}",
              "```", "",
              "Quick-profile runs are shorter than MLPerf's minimums (600 s, 24,576 Offline samples, 50,000 accuracy "
              "samples): use `bench run --profile mlperf` and the full ImageNet validation set for a real submission.",
              ""]
    return "\n".join(lines)
