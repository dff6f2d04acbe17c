"""The H200 targets of issue 25 in one call: torch fp16 ResNet-50 on CUDA, NVML power on, one table, under 8 minutes.

Rows, in order (each one `bench run ... --json` in its own process, so a crash or a timeout costs one row):
Offline eager with host input; Offline with CUDA graphs, host input, then device input (--input-location device: the
cost of the host path is the difference of the two); SingleStream and MultiStream with graphs; Server with graphs at
0.8 of the graphed Offline row's samples/s, MLPerf's 15 ms bound. Each row: samples/s, latencies, W and J/sample, and
the issue's target for it with "met" or "missed".

The GPU machine has no network: LoadGen's cp312 wheel travels in gpu-carry/ (git-ignored). Make it here with

    pip download mlcommons-loadgen==6.0.17 --python-version 3.12 --only-binary=:all: \\
        --platform manylinux_2_28_x86_64 --no-deps -d gpu-carry/

then the device tool's `run`, with carry ["gpu-carry"] and timeout_s 590:

    PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q --no-index --no-deps gpu-carry/*.whl && nvidia-smi -L && \\
    PYTHONPATH=$PWD python3 benchmarks/gpu_suite.py --output /tmp/gpu-suite --markdown $OUT/gpu-suite.md \\
        --json-out $OUT/gpu-suite.json

and commit the table in docs/gpu-results.md. Without a CUDA GPU it exits 2 with the reason, measuring nothing;
`--device cpu` runs the same plumbing on the CPU (resnet18 fp32, the GPU-only options left out), which is how
tests/test_gpu.py checks the script. NOT YET RUN ON A GPU in the form written here (2026-12-03: no machine lent).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 480  # the whole suite: 8 minutes, of the device time a lent machine gives
SERVER_LOAD = 0.8  # Server's target: this fraction of the graphed Offline row's samples/s
# (name, scenario, batch, flags, target): flags are bench run's; targets are issue 25's for one H200.
ROWS = (
    ("offline-host", "offline", 1024, [], ("samples/s", ">=", 15_000)),
    ("offline-graphs-host", "offline", 1024, ["--cuda-graphs"], ("samples/s", ">=", 25_000)),
    ("offline-graphs-device", "offline", 1024, ["--cuda-graphs", "--input-location", "device"], None),
    ("single-stream-graphs", "single-stream", 1, ["--cuda-graphs"], ("p90 ms", "<=", 1.5)),
    ("multi-stream-graphs", "multi-stream", 8, ["--cuda-graphs"], ("p99 ms", "<=", 3.0)),
    ("server-graphs", "server", 32, ["--cuda-graphs", "--max-wait-ms", "1"], ("valid", "==", "VALID")),
)
GPU_ONLY = ("--cuda-graphs", "--input-location")
# Batch per scenario for callers that name a scenario only (benchmarks/gpu_check.py's scenario part).
SCENARIOS = {"offline": 128, "server": 16, "single-stream": 1, "multi-stream": 8}
COLUMNS = ("row", "backend", "scenario", "valid", "samples/s", "p50 ms", "p90 ms", "p99 ms", "avg W", "J/sample", "target",
           "verdict", "data path", "device")


def flags_for(flags: list[str], device: str) -> list[str]:
    """The row's flags; on the CPU the GPU-only ones (and their values) left out."""
    if device.startswith("cuda"):
        return list(flags)
    out, skip = [], False
    for flag in flags:
        if skip:
            skip = False
        elif flag in GPU_ONLY:
            skip = flag == "--input-location"
        else:
            out.append(flag)
    return out


def server_qps(rows: list[dict]) -> float | None:
    """Server's arrival rate: SERVER_LOAD of the graphed host-input Offline row, when that row ran."""
    offline = next((r for r in rows if r["row"] == "offline-graphs-host" and r.get("rate")), None)
    return SERVER_LOAD * offline["rate"] if offline else None


def run_one(args, backend: str, flags: list[str], scenario: str, batch: int | None = None) -> dict:
    batch = SCENARIOS[scenario] if batch is None else batch
    command = [sys.executable, "-m", "bench.cli", "run", "--backend", backend, "--scenario", scenario,
               "--model", args.model, "--device", args.device, "--precision", args.precision,
               "--batch-size", str(min(batch, args.max_batch)), "--count", str(args.count),
               "--duration", str(args.duration), "--output", str(args.output), "--json", *flags]
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout, env=env, cwd=ROOT,
                              check=False)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "error": f"timed out after {args.timeout} s", "command": command}
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"status": "failed", "error": f"exit {done.returncode}: {' | '.join(tail)}", "command": command}
    record = json.loads(done.stdout)
    record["wall_s"] = time.perf_counter() - start
    return record


def verdict(row: dict, target) -> str:
    if target is None:
        return "-"
    column, op, want = target
    got = row.get("valid") if column == "valid" else row.get({"samples/s": "rate", "p90 ms": "p90", "p99 ms": "p99"}[column])
    if got is None or got == "ERROR":
        return "not measured"
    ok = got == want if op == "==" else (got >= want if op == ">=" else got <= want)
    return "met" if ok else "missed"


def row(backend: str, flags: list[str], scenario: str, record: dict, name: str = "-", target=None) -> dict:
    base = {"row": name, "backend": backend, "options": " ".join(flags) or "-", "scenario": scenario,
            "target": " ".join(map(str, target)) if target else "-"}
    if record.get("status") != "complete":
        return {**base, "valid": "ERROR", "verdict": "not measured", "device": record.get("error") or record.get("status")}
    perf, power, described = record["performance"], record.get("power") or {}, record.get("backend") or {}
    lat, path = perf.get("latency_ms") or {}, perf.get("data_path") or {}
    num = lambda v, fmt="{:,.1f}": "-" if v is None else fmt.format(v)
    out = {**base, "valid": "VALID" if perf.get("valid") else "INVALID", "rate": perf.get("samples_per_second"),
           "p90": lat.get("p90"), "p99": lat.get("p99"),
           "samples/s": num(perf.get("samples_per_second")), "p50 ms": num(lat.get("p50"), "{:.2f}"),
           "p90 ms": num(lat.get("p90"), "{:.2f}"), "p99 ms": num(lat.get("p99"), "{:.2f}"),
           "avg W": num(power.get("avg_watts")), "J/sample": num(power.get("joules_per_sample"), "{:.4f}"),
           "data path": f"{path.get('form')} {path.get('input_location')} pinned={path.get('pinned')} "
                        f"h2d/batch={path.get('h2d_copies_per_batch')} host copies/batch={path.get('host_copies_per_batch')}",
           "device": f"{described.get('device')} {described.get('gpu') or ''}".strip(), "power_reason": power.get("reason")}
    out["verdict"] = verdict(out, target)
    return out


def markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def no_gpu_reason(device: str) -> str | None:
    if not device.startswith("cuda"):
        return None
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    return None if torch.cuda.is_available() else "no CUDA GPU here (torch.cuda.is_available() is False)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--precision", default=None, help="default: fp16 on CUDA, fp32 on the CPU")
    parser.add_argument("--model", default=None, help="default: resnet50 on CUDA, resnet18 on the CPU")
    parser.add_argument("--count", type=int, default=1024, help="synthetic samples (MLPerf's performance count)")
    parser.add_argument("--duration", type=float, default=10.0, help="LoadGen minimum duration per run, seconds")
    parser.add_argument("--max-batch", type=int, default=1024, help="cap on the rows' batch sizes")
    parser.add_argument("--timeout", type=int, default=75, help="seconds per row before it is abandoned")
    parser.add_argument("--rows", default=",".join(r[0] for r in ROWS), help="comma-separated row names")
    parser.add_argument("--output", type=Path, default=ROOT / "results" / "gpu-suite")
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown here")
    parser.add_argument("--json-out", type=Path, help="also write every row as JSON here")
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    args.precision = args.precision or ("fp16" if cuda else "fp32")
    args.model = args.model or ("resnet50" if cuda else "resnet18")
    if (reason := no_gpu_reason(args.device)) is not None:
        print(f"gpu_suite: {reason}: nothing measured. Run it on a machine with an NVIDIA GPU (see this file's top), "
              "or with --device cpu to check the plumbing", file=sys.stderr)
        return 2
    chosen = [r for r in ROWS if r[0] in args.rows.split(",")]
    if len(chosen) * args.timeout > BUDGET_S:
        print(f"gpu_suite: {len(chosen)} rows x --timeout {args.timeout} s could exceed the {BUDGET_S} s budget",
              file=sys.stderr)
    start, rows = time.perf_counter(), []
    for name, scenario, batch, flags, target in chosen:
        extra = flags_for(flags, args.device)
        if scenario == "server" and (qps := server_qps(rows)) is not None:
            extra += ["--target-qps", f"{qps:.0f}"]
        print(f"{name}: {scenario} {' '.join(extra)} ...", file=sys.stderr, flush=True)
        rows.append(row("torch", extra, scenario, run_one(args, "torch", extra, scenario, batch), name, target))
        print(f"  {rows[-1]['valid']} {rows[-1].get('samples/s', '')} samples/s, {rows[-1]['verdict']}",
              file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - start
    title = f"{args.model} {args.precision} on {args.device}, {args.duration:g} s per run, {elapsed:.0f} s in all"
    table = f"{title}\n\n{markdown(rows)}"
    print(table, file=sys.stderr)
    for reason in sorted({r["power_reason"] for r in rows if r.get("power_reason")}):
        print(f"power n/a: {reason}", file=sys.stderr)
    if args.markdown:
        args.markdown.write_text(table)
    if args.json_out:
        args.json_out.write_text(json.dumps({"title": title, "rows": rows}, indent=1))
    print(json.dumps(rows))  # the last line: every row, for machines
    return 0 if all(r["valid"] != "ERROR" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
