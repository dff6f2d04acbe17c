"""The GPU check: Offline, Server and SingleStream for torch (fp16) and torch-compile on CUDA, NVML power on; one table.

Run on a machine with an NVIDIA GPU (see docs/gpu-results.md for the lent-machine recipe):

    PYTHONPATH=$PWD python benchmarks/gpu_suite.py --output results/gpu --markdown gpu-table.md

Each configuration is one `bench run ... --json` in its own process (a crash or a timeout costs one row, not the
suite); rows print as they finish. `--device cpu --precision fp32 --model resnet18` runs the same plumbing on a
CPU, which is how the script itself is checked where no GPU is.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = {  # scenario -> (batch size, extra flags)
    "offline": (128, []),
    "server": (16, ["--max-wait-ms", "2"]),
    "single-stream": (1, []),
    "multi-stream": (8, []),
}
COLUMNS = ("backend", "options", "scenario", "valid", "samples/s", "p50 ms", "p90 ms", "p99 ms", "avg W", "max W",
           "J/sample", "samples/s/W", "power source", "device")


def configurations(args) -> list[tuple[str, list[str], str]]:
    """(backend, extra flags, scenario) for every row."""
    rows = []
    for scenario in args.scenarios.split(","):
        for backend in args.backends.split(","):
            rows.append((backend, [], scenario))
            if backend == "torch" and args.cuda_graphs and args.device.startswith("cuda"):
                rows.append(("torch", ["--cuda-graphs"], scenario))
    return rows


def run_one(args, backend: str, flags: list[str], scenario: str) -> dict:
    batch, scenario_flags = SCENARIOS[scenario]
    command = [sys.executable, "-m", "bench.cli", "run", "--backend", backend, "--scenario", scenario,
               "--model", args.model, "--device", args.device, "--precision", args.precision,
               "--batch-size", str(min(batch, args.max_batch)), "--count", str(args.count),
               "--duration", str(args.duration), "--output", str(args.output), "--json",
               *scenario_flags, *flags]
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "error": f"timed out after {args.timeout} s", "command": command}
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"status": "failed", "error": f"exit {done.returncode}: {' | '.join(tail)}", "command": command}
    record = json.loads(done.stdout)
    record["wall_s"] = time.perf_counter() - start
    return record


def row(backend: str, flags: list[str], scenario: str, record: dict) -> dict:
    base = {"backend": backend, "options": " ".join(flags) or "-", "scenario": scenario}
    if record.get("status") != "complete":
        return {**base, "valid": "ERROR", "device": record.get("error") or record.get("status")}
    perf, power, described = record["performance"], record["power"] or {}, record.get("backend") or {}
    lat = perf.get("latency_ms") or {}

    def num(value, fmt="{:,.1f}"):
        return "-" if value is None else fmt.format(value)

    return {**base, "valid": "VALID" if perf.get("valid") else "INVALID",
            "samples/s": num(perf.get("samples_per_second")),
            "p50 ms": num(lat.get("p50"), "{:.2f}"), "p90 ms": num(lat.get("p90"), "{:.2f}"),
            "p99 ms": num(lat.get("p99"), "{:.2f}"),
            "avg W": num(power.get("avg_watts")), "max W": num(power.get("max_watts")),
            "J/sample": num(power.get("joules_per_sample"), "{:.4f}"),
            "samples/s/W": num(power.get("samples_per_second_per_watt"), "{:.2f}"),
            "power source": power.get("source") or "n/a", "power_reason": power.get("reason"),
            "device": f"{described.get('device')} {described.get('gpu') or described.get('gpu_name') or ''}".strip()}


def markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--precision", default="fp16")
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--count", type=int, default=1024, help="synthetic samples (MLPerf's performance count)")
    parser.add_argument("--duration", type=float, default=10.0, help="LoadGen minimum duration per run, seconds")
    parser.add_argument("--max-batch", type=int, default=128, help="cap on the scenarios' batch sizes")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per run before it is abandoned")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated")
    parser.add_argument("--backends", default="torch,torch-compile", help="comma-separated")
    parser.add_argument("--no-cuda-graphs", dest="cuda_graphs", action="store_false",
                        help="leave out the torch --cuda-graphs rows")
    parser.add_argument("--output", type=Path, default=ROOT / "results" / "gpu-suite")
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown here")
    args = parser.parse_args()

    console = Console(width=200)  # a log, not a terminal: never squeeze the columns
    rows = []
    for backend, flags, scenario in configurations(args):
        console.print(f"[bold]{backend}[/] {' '.join(flags)} {scenario} ...")
        record = run_one(args, backend, flags, scenario)
        rows.append(row(backend, flags, scenario, record))
        console.print(f"  {rows[-1]['valid']} {rows[-1].get('samples/s', '')} samples/s, "
                      f"{rows[-1].get('avg W', '')} W {rows[-1].get('device', '')}")
    table = Table(title=f"GPU suite: {args.model} {args.precision} on {args.device}, {args.duration:g} s per run")
    for column in COLUMNS:
        table.add_column(column)
    for r in rows:
        table.add_row(*(str(r.get(c, "")) for c in COLUMNS))
    console.print(table)
    for reason in sorted({r["power_reason"] for r in rows if r.get("power_reason")}):
        console.print(f"power n/a: {reason}")
    if args.markdown:
        args.markdown.write_text(markdown(rows))
    print(json.dumps(rows))  # the last line: every row, for machines
    return 0 if all(r["valid"] != "ERROR" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
