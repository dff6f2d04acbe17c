"""Writing a submission tree's files: logs copied, measurements, READMEs, systems/<system>.json, FILL_IN.md.

bench/mlperf/submission.py decides which runs go where; this module writes what each folder holds, in the layout of
the round bench/mlperf/rounds.py chose.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from bench import __version__, safe_names, scenarios
from bench.cache import atomic_write, file_sha256
from bench.config.command_line import to_command
from bench.config.run_config import DEFAULTS
from bench.record import accuracy, snapshot
from bench.system import run_dir as layout

BENCHMARK = "resnet50"
MLPERF_MODEL = "resnet"  # the checker's name for the image-classification benchmark every model here maps to
PERF_FILES = layout.PERFORMANCE_FILES
ACCURACY_FILES = layout.ACCURACY_FILES
CLOSED_AUDITS = ("TEST01", "TEST04")
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


def write_entry(root: Path, entry, division: str, chosen) -> list[str]:
    """One system/model/scenario folder (and its measurements and compliance); returns what is missing."""
    missing: list[str] = []
    where = f"{entry.system}/{entry.model}/{entry.scenario}"
    res = root / "results" / entry.system / entry.model / entry.scenario
    if entry.performance:
        _copy(layout.loadgen_dir(entry.performance["run_dir"]), res / "performance" / "run_1",
              PERF_FILES)
        if not entry.performance["performance"].get("valid"):
            missing.append(f"{where}: the newest performance run is INVALID ({entry.performance['run_id']})")
    else:
        missing.append(f"{where}: no performance run (`bench run --scenario ...`)")
    if entry.accuracy:
        src = layout.loadgen_dir(entry.accuracy["run_dir"], "accuracy")
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
    meas = root / "measurements" / entry.system / entry.model / entry.scenario if chosen.split else res
    meas.mkdir(parents=True, exist_ok=True)
    name = f"{entry.system}_{_implementation(run)}_{entry.scenario}.json" if chosen.split else "measurements.json"
    atomic_write(meas / name, json.dumps(measurements(run), indent=2) + "\n")
    atomic_write(meas / "user.conf", conf)
    atomic_write(meas / "README.md", measurement_readme(entry, run, chosen))
    compliance = root / "compliance" / entry.system / entry.model / entry.scenario if chosen.split else res
    for test, src in sorted(entry.audits.items()):
        if (compliance / test).exists():
            shutil.rmtree(compliance / test)
        shutil.copytree(src, compliance / test)
    if division == "closed":
        missing += [f"{where}: no {test} audit (`bench audit {test} --scenario ...`)"
                    for test in CLOSED_AUDITS if test not in entry.audits]
    return missing


def write_common(root: Path, entries: dict, division: str, submitter: str, suites: dict, chosen) -> dict:
    """systems/*.json, code READMEs and (open division) model_mapping.json; returns the fields to fill in."""
    fill_in: dict[str, list[str]] = {}
    (root / "systems").mkdir(parents=True, exist_ok=True)
    for sys_id, suite in sorted(suites.items()):
        record = next(e.performance or e.accuracy for e in entries.values() if e.system == sys_id)
        desc = system_description(record, submitter, division, suite)
        atomic_write(root / "systems" / f"{sys_id}.json", json.dumps(desc, indent=2) + "\n")
        fill_in[sys_id] = [k for k, v in desc.items() if v in ("", None)]
    models = sorted({m for _, m, _ in entries})
    for model in models:
        code = root / chosen.code_dir / model
        code.mkdir(parents=True, exist_ok=True)
        atomic_write(code / "README.md", code_readme(model))
    others = [m for m in models if m != BENCHMARK]
    if division == "open" and others:  # the checker maps each model folder to the benchmark it stands for
        atomic_write(root / "model_mapping.json", json.dumps({m: MLPERF_MODEL for m in others}, indent=2) + "\n")
    return fill_in


def _copy(src: Path, dest: Path, names) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        if (src / name).exists():
            shutil.copy2(src / name, dest / name)


def user_conf(record: dict) -> str:
    """The run's own user.conf, else one that states the settings it ran with (the checker wants the file)."""
    cfg = record["config"]
    if (used := snapshot.user_conf(record, record["run_dir"])) is not None:  # the file as the run read it
        return used
    if cfg.get("user_conf") and Path(cfg["user_conf"]).is_file():
        return Path(cfg["user_conf"]).read_text()
    perf = record.get("performance") or {}
    lines = [f"# settings of bench run {record['run_id']} (profile {cfg.get('profile')})"]
    lines += scenarios.get(cfg["scenario"]).conf_lines(cfg["model"], perf)
    return "\n".join(lines) + "\n"


def _implementation(record: dict) -> str:
    cfg = record["config"]
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"bench-{cfg['backend']}-{cfg.get('precision', 'fp32')}")


def _model_format(backend: str) -> str | None:
    """What the backend runs of a bench model, as it declares (Backend.model_format); None if it is not here."""
    from bench import backends
    from bench.errors import BenchError

    try:
        return backends.backend_class(backend).model_format
    except BenchError:
        return None


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
    if not (model.get("onnx") or cfg.get("onnx")) and _model_format(cfg["backend"]) == "onnx":
        transformations += "; exported from PyTorch to ONNX (opset 17)"
    return {
        "input_data_types": "fp32",
        "retraining": "No",
        "starting_weights_filename": weights,
        "weight_data_types": precision,
        "weight_transformations": transformations,
    }


def measurement_readme(entry, record: dict, chosen) -> str:
    cfg = record["config"]
    # Each run's own options, every one (bench/config/run_config.py), with this folder's user.conf for performance.
    commands = []
    if entry.performance:
        commands.append(to_command(entry.performance["config"], output=DEFAULTS["output"], mode="performance",
                                   user_conf="user.conf"))
    if entry.accuracy:
        commands.append(to_command(entry.accuracy["config"], output=DEFAULTS["output"], mode="accuracy",
                                   user_conf=None))
    compliance = f"compliance/{entry.system}/{entry.model}/{entry.scenario}" if chosen.split else "."
    lines = [f"# {entry.model} {entry.scenario} on {entry.system}", "",
             f"Implementation: `bench` {__version__} (backend `{cfg['backend']}`), see "
             f"{chosen.code_dir}/{entry.model}/README.md.", "",
             "## Reproduce", "", "```", *commands, "```", "", "## Runs in this folder", ""]
    if entry.performance:
        perf = entry.performance["performance"]
        lines.append(f"- performance: {entry.performance['run_id']}: {perf['result_metric']['name']} = "
                     f"{perf['result_metric']['value']}, LoadGen {perf['loadgen_validity']}")
    if entry.accuracy:
        acc = entry.accuracy["accuracy"]
        lines.append(f"- accuracy: {entry.accuracy['run_id']}: "
                     f"{accuracy.accuracy_txt(acc['correct'], acc['count']).strip()}")
    lines += [f"- compliance {test}: {compliance}/{test}" for test in sorted(entry.audits)]
    if cfg.get("synthetic_weights") or cfg.get("synthetic_data"):
        lines += ["", "Synthetic weights or images: this is a performance-only result, open division at most."]
    if cfg["model"] != BENCHMARK:
        lines += ["", f"Model run: {cfg['model']} (open division, in place of the reference {BENCHMARK})."]
    return "\n".join(lines) + "\n"


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


def code_readme(model: str) -> str:
    commit = _git_commit()
    return "\n".join([
        f"# {model} implementation: bench {__version__}", "",
        "The harness that produced these results is the `bench` project (MLPerf-style image-classification "
        "benchmark over MLCommons LoadGen with pluggable backends). Its source is the repository this tree was "
        "built from" + (f", commit `{commit}`." if commit else "."), "",
        "Install it and rerun a scenario as the README beside each result's user.conf says, for example:", "",
        "```", "pip install '.[cpu]'",
        f"bench run --backend onnxruntime --model {model} --scenario offline --user-conf user.conf",
        f"bench run --backend onnxruntime --model {model} --scenario offline --mode accuracy --dataset IMAGENET_VAL_DIR",
        f"bench audit TEST01 TEST04 --backend onnxruntime --model {model} --scenario offline", "```", ""])


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def write_fill_in(out: Path, root: Path, fill_in: dict[str, list[str]], missing: list[str], notes: list[str],
                  chosen) -> None:
    state = "INCOMPLETE: see \"Missing\" below" if missing else "complete (after the fields below are filled in)"
    lines = [f"# Before submitting {root}", "", f"MLPerf Inference {chosen.name} (the round of the runs' LoadGen "
             f"seeds). This tree is {state}.", "",
             "## Fields to fill in systems/<system>.json", "",
             "No probe can know these (status is one of available, preview, rdi):", ""]
    for sys_id, keys in fill_in.items():
        lines.append(f"- systems/{sys_id}.json: " + ", ".join(keys))
    lines += ["", "## Missing or not yet submittable", ""]
    lines += [f"- {m}" for m in missing] or ["- nothing"]
    if notes:
        lines += ["", "## Runs not in this tree", ""] + [f"- {n}" for n in notes]
    lines += ["", "## Check it", "",
              "Run the MLCommons submission checker from a checkout of mlcommons/inference:", "", "```",
              f"cd tools/submission && python3 -m submission_checker.main --input {out.resolve()} "
              f"--version {chosen.name}",
              "```", "",
              "Quick-profile runs are shorter than MLPerf's minimums (600 s, 24,576 Offline samples, 50,000 accuracy "
              "samples): use `bench run --profile mlperf` and the full ImageNet validation set for a real submission.",
              ""]
    atomic_write(out / "FILL_IN.md", "\n".join(lines))
    safe_names.own_file(out / "FILL_IN.md")
