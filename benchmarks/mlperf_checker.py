"""MLCommons' own submission checker as the oracle for `bench submission` (outside CI: it needs a checkout).

    python benchmarks/mlperf_checker.py PATH/TO/mlcommons/inference [--work DIR] [--version v6.1]

Makes quick runs of all four scenarios on the bundled images (tests/data/imagenet) with the null backend
(answers at once, so the whole thing takes minutes on 2 cores): closed division as ResNet-50 with a seeded
random weights file and `bench audit TEST01 TEST04`; open division as resnet18 (synthetic weights, its own model
folder and model_mapping.json). For each division and system type it builds a tree with `bench submission`,
fills in the systems/*.json fields FILL_IN.md lists (as the submitter would), runs
tools/submission/submission_checker and sorts every ERROR line it prints:

- allowed: "short run", "small data", "synthetic weights" (what 1 s runs on 16 images with a backend that does
  no inference cannot avoid) and "summary" (a line that only says that a check above failed);
- "format": anything else, a fault in the tree bench wrote. There must be none: exit 1 if any.

The datacenter-only suite has no ResNet-50 since v5.1: bench refuses it (exit 2), which is checked too.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "tests" / "data" / "imagenet"
SCENARIOS = ("offline", "server", "single-stream", "multi-stream")
QUICK = ["--count", "16", "--duration", "1", "--dataset", str(IMAGES), "--system-name", "checkbox"]
# Checker messages a quick run on 16 images with the null backend cannot avoid, by the reason they are allowed.
ALLOWED = {  # tried in this order
    "summary": [r"checks? (checks )?failed for", r"^NoResults ", r"SUMMARY: submission has errors"],
    "small data": [r"does not cover all dataset", r"performance_sample_count, found 16"],
    "synthetic weights": [r"accuracy.*(target|below|less)"],
    # 1 s runs: too short for MLPerf, too short for early stopping, and (on a shared 2-core machine) too noisy for
    # an audit's 10% performance comparison, whose verify_performance.txt then says TEST FAIL.
    "short run": [r"Test duration less than 600s", r"Early stopping condition was not met",
                  r"Compliance test performance check in .*/TEST0[14] failed", r"min(imum)? ?(duration|query count)"],
}
# What FILL_IN.md asks the submitter for: filled in here so the checker judges bench's part only.
FILLED = {"status": "available", "system_type_detail": "workstation", "host_processors_per_node": "1",
          "host_processor_caches": "n/a", "host_processor_interconnect": "n/a", "host_memory_configuration": "n/a",
          "host_storage_capacity": "1 TB", "host_storage_type": "SSD", "host_networking": "n/a",
          "host_networking_topology": "n/a", "host_network_card_count": "1", "cooling": "air"}


def bench(*args, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-c", "from bench.cli import main; main()", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT)
    if check and proc.returncode not in (0, 3):  # 3: an audit FAILed on a busy machine; the tree still holds it
        sys.exit(f"bench {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def make_runs(work: Path) -> dict[str, Path]:
    import torch

    from bench.models import resnet

    weights = work / "resnet50-seeded.pt"  # a file, so bench treats the run as closed-eligible ResNet-50
    if not weights.exists():
        torch.manual_seed(0)
        torch.save(resnet.build("resnet50").state_dict(), weights)
    runs = {"closed": work / "runs-closed", "open": work / "runs-open"}
    if all(path.exists() for path in runs.values()):
        return runs  # made by an earlier call with this --work
    for scenario in SCENARIOS:
        print(f"runs: {scenario}", flush=True)
        bench("audit", "TEST01", "TEST04", "--backend", "null", "--model", "resnet50", "--weights", weights,
              "--scenario", scenario, *QUICK, "--output", runs["closed"])
        bench("run", "--backend", "null", "--model", "resnet18", "--scenario", scenario, "--mode", "both", *QUICK,
              "--output", runs["open"])
    return runs


def classify(line: str) -> str:
    return next((kind for kind, patterns in ALLOWED.items() if any(re.search(p, line, re.I) for p in patterns)),
                "format")


def check(checkout: Path, runs: dict[str, Path], work: Path, version: str) -> int:
    format_errors = 0
    for division in ("closed", "open"):
        for system_type in ("edge", "datacenter,edge", "datacenter"):
            out = work / f"tree-{division}-{system_type.replace(',', '-')}"
            built = bench("submission", "--results", runs[division], "--out", out, "--submitter", "BenchCheck",
                          "--division", division, "--system-type", system_type, "--version", version, check=False)
            title = f"{version} {division} {system_type}"
            if system_type == "datacenter":
                refused = built.returncode == 2 and "no ResNet-50 in the datacenter suite" in built.stderr + built.stdout
                print(f"\n## {title}: bench refuses it: {'yes' if refused else 'NO'}")
                format_errors += not refused
                continue
            if built.returncode != 0:
                sys.exit(f"bench submission ({title}) failed:\n{built.stdout}\n{built.stderr}")
            for desc in (out / division / "BenchCheck" / "systems").glob("*.json"):
                fields = json.loads(desc.read_text())
                fields.update({k: v for k, v in FILLED.items() if fields.get(k) in ("", None)})
                desc.write_text(json.dumps(fields, indent=2) + "\n")
            proc = subprocess.run([sys.executable, "-m", "submission_checker.main", "--input", str(out),
                                   "--version", version], capture_output=True, text=True,
                                  cwd=checkout / "tools" / "submission")
            errors = [re.sub(r"^\[[^]]*ERROR\] ", "", line).replace(str(out) + "/", "")
                      for line in (proc.stdout + proc.stderr).splitlines() if " ERROR] " in line]
            print(f"\n## {title}: checker exit {proc.returncode}, {len(errors)} ERROR lines")
            kinds = [classify(line) for line in errors]
            for kind, line in zip(kinds, errors):
                print(f"- [{kind}] {line}")
            format_errors += kinds.count("format")
            print("by kind: " + ", ".join(f"{k} {kinds.count(k)}" for k in (*ALLOWED, "format")))
    return format_errors


def check_rounds(checkout: Path) -> int:
    """bench/mlperf/rounds.py's facts against the checker's own table: seeds, and the suites ResNet-50 is in."""
    from bench.mlperf import rounds

    sys.path.insert(0, str(checkout / "tools" / "submission"))
    from submission_checker.constants import MODEL_CONFIG

    wrong = []
    for name, known in rounds.ROUNDS.items():
        config = MODEL_CONFIG.get(name)
        if config is None:
            wrong.append(f"{name}: not in this checker")
            continue
        if known.seeds != tuple(config["seeds"][f"{k}_rng_seed"] for k in rounds.SEED_KEYS):
            wrong.append(f"{name}: seeds differ")
        for suite in rounds.SUITES:
            want = config[f"required-scenarios-{suite.replace(',', '-')}"].get("resnet")
            have = set(known.scenarios(suite)) if suite in known.resnet else None
            if (None if want is None else set(want)) != have:
                wrong.append(f"{name} {suite}: checker requires {want}, bench/mlperf/rounds.py {have}")
    print("bench/mlperf/rounds.py vs the checker's MODEL_CONFIG: " + ("agree" if not wrong else "; ".join(wrong)))
    return len(wrong)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inference", type=Path, help="a checkout of mlcommons/inference")
    parser.add_argument("--work", type=Path, help="where runs and trees go (default: a temporary folder)")
    parser.add_argument("--version", default="v6.1")
    args = parser.parse_args()
    if not (args.inference / "tools" / "submission" / "submission_checker" / "main.py").is_file():
        sys.exit(f"{args.inference} holds no tools/submission/submission_checker: give a mlcommons/inference checkout")
    commit = subprocess.run(["git", "-C", str(args.inference), "rev-parse", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    work = args.work or Path(tempfile.mkdtemp(prefix="mlperf-checker-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# bench submission vs the official checker (mlcommons/inference {commit}), work dir {work}")
    bad = check_rounds(args.inference)
    runs = make_runs(work)
    bad += check(args.inference, runs, work, args.version)
    print(f"\nformat errors: {bad}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
