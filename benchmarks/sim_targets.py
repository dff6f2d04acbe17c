"""Harness efficiency against the simulated accelerator (backends/sim_backend.py): what each scenario achieves as a
share of what the device model can do, beside issue 25's targets, and the harness's headroom.

    python benchmarks/sim_targets.py                 # the targets: a=300 us, b=45 us, k=1 (ceiling 22,222/s)
    python benchmarks/sim_targets.py --smallest      # a smoke run of every row at tiny sizes (the tests run it)

One `bench run --backend sim` per row, in a fresh process, as a user runs it. Efficiency is achieved / the model's:
Offline and Server samples/s over the ceiling k/b; SingleStream and MultiStream the model's latency (a + b, a + 8b)
against the measured one. The headroom is the largest ceiling (b made smaller) at which Offline still reaches 0.90
of it on this machine: past it, the harness, not the device, sets the figure. Also printed: the host's gather
bandwidth (one batch of uint8 samples, np.take as the QSL gathers), the copy every batch pays.
Prints a row per figure and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SERVER_LOAD = 0.85  # the target: Server VALID at this share of the ceiling
SERVER_P99_MS = 15.0
OFFLINE_SHARE = 0.90
SINGLE_SLACK_US = 50.0
MULTI_SLACK_MS = 1.0
SAMPLE_BYTES = 224 * 224 * 3  # a ResNet-50 sample as uint8 NHWC


def bench_run(scenario: str, a: float, b: float, k: int, batch: int, duration: float, count: int,
              extra: tuple[str, ...] = (), switch_interval: float | None = None, coalesce: bool = False) -> dict:
    """One `bench run --json`; its record's performance section and the sim's own figures. `switch_interval`: the
    child's sys.setswitchinterval; `coalesce`: a user.conf with LoadGen's coalesce_queries (Server)."""
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as out:
        python = [sys.executable, "-m", "bench.cli"] if switch_interval is None else [
            sys.executable, "-c", ("import runpy, sys; sys.setswitchinterval(float(sys.argv.pop(1))); "
                                   "runpy.run_module('bench.cli', run_name='__main__')"), str(switch_interval)]
        if coalesce and scenario == "server":
            conf = Path(out) / "user.conf"
            conf.write_text("*.Server.coalesce_queries = 1\n")
            extra = (*extra, "--user-conf", str(conf))
        command = [*python, "run", "--backend", "sim", "--scenario", scenario,
                   "--sim-a-us", f"{a:g}", "--sim-b-us", f"{b:g}", "--sim-inflight", str(k), "--batch-size",
                   str(batch), "--count", str(count), "--duration", f"{duration:g}", "--output", out, "--json", *extra]
        start = time.perf_counter()
        done = subprocess.run(command, check=False, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:], "command": command}
    record = json.loads(done.stdout)
    perf = record["performance"]
    return {"valid": perf["valid"], "sps": perf["samples_per_second"], "lat": perf["latency_ms"],
            "reasons": perf["invalid_reasons"], "device": perf["data_path"].get("device"),
            "issue_lag": perf.get("issue_lag"), "cpu": perf["cpu"], "wall_s": round(time.perf_counter() - start, 1),
            "command": " ".join(command[command.index("run") - 1:command.index("--output")])}


def gather_gb_per_s(batch: int, count: int) -> float:
    """The host copy alone: a batch of 224x224x3 uint8 samples gathered from a store of `count`, as the QSL does."""
    import numpy as np

    store = np.full((count, 224, 224, 3), 7, np.uint8)
    out = np.full((batch, 224, 224, 3), 0, np.uint8)
    rows = np.random.default_rng(0).integers(0, count, batch)
    start, turns = time.perf_counter(), 10
    for _ in range(turns):
        np.take(store, rows, axis=0, out=out, mode="clip")
    return turns * out.nbytes / (time.perf_counter() - start) / 1e9


def rows(args) -> dict:
    a, b, k = args.a_us, args.b_us, args.inflight
    ceiling = k / b * 1e6

    def run(scenario, batch, *extra, b=b):
        return bench_run(scenario, a, b, k, batch, args.duration, args.count, extra, args.switch_interval,
                         args.coalesce)

    found: dict = {"ceiling_samples_per_s": round(ceiling, 1),
                   "gather_gb_per_s": round(gather_gb_per_s(args.offline_batch, args.count), 2)}

    only = set(args.only.split(",")) if args.only else {"offline", "server", "single-stream", "multi-stream",
                                                          "headroom"}
    if "offline" in only:
        r = found["offline"] = run("offline", args.offline_batch)
        if "error" not in r:
            r["efficiency"] = round(r["sps"] / ceiling, 3)
            r["met"] = r["valid"] and r["efficiency"] >= OFFLINE_SHARE
            # What this host can copy: a batch's gather at the measured bandwidth bounds Offline below the device.
            copy_bound = found["gather_gb_per_s"] * 1e9 / SAMPLE_BYTES
            r["host_copy_bound_samples_per_s"] = round(copy_bound)
            r["efficiency_vs_achievable"] = round(r["sps"] / min(ceiling, copy_bound), 3)
    if "server" in only:
        r = found["server"] = run("server", args.server_batch, "--target-qps", f"{SERVER_LOAD * ceiling:.0f}",
                                  "--max-wait-ms", f"{args.max_wait_ms:g}")
        if "error" not in r:
            r["efficiency"] = round(r["sps"] / ceiling, 3)
            r["met"] = r["valid"] and r["lat"]["p99"] <= SERVER_P99_MS and r["efficiency"] >= SERVER_LOAD * 0.99
    if "single-stream" in only:
        r = found["single-stream"] = run("single-stream", 1)
        if "error" not in r:
            model_us = a + b
            r["over_model_us"] = round(r["lat"]["p50"] * 1e3 - model_us, 1)
            r["efficiency"] = round(model_us / (r["lat"]["p50"] * 1e3), 3)
            r["met"] = r["over_model_us"] <= SINGLE_SLACK_US
    if "multi-stream" in only:
        r = found["multi-stream"] = run("multi-stream", 8)
        if "error" not in r:
            model_ms = (a + 8 * b) / 1e3
            r["over_model_ms"] = round(r["lat"]["p99"] - model_ms, 3)
            r["efficiency"] = round(model_ms / r["lat"]["p99"], 3)
            r["met"] = r["valid"] and r["over_model_ms"] <= MULTI_SLACK_MS
    if "headroom" not in only:
        return found
    found["headroom"] = headroom(args, run, ceiling)
    return found


def headroom(args, run, ceiling: float) -> dict:
    """Offline at ceilings 1x, 1.5x, 2x ... the target's (b divided), up to the first below 0.90: the last above."""
    tried, best = [], None
    for factor in args.headroom_factors:
        b = args.b_us / factor
        r = run("offline", args.offline_batch, b=b)
        share = None if "error" in r else r["sps"] / (args.inflight / b * 1e6)
        tried.append({"ceiling": round(args.inflight / b * 1e6), "sps": r.get("sps"),
                      "share": None if share is None else round(share, 3)})
        if share is None or share < OFFLINE_SHARE:
            break
        best = round(args.inflight / b * 1e6)
    return {"largest_ceiling_at_0.90": best, "tried": tried}


def where(r: dict) -> str:
    """Where a row's time went: the device's busy share, its batches, how late completions were seen, the process's
    CPU, Server's issue lag, and Offline's bound from the host copy."""
    d, cpu = r.get("device") or {}, r.get("cpu") or {}
    seconds = cpu.get("seconds") or 0
    parts = [f"device busy {d.get('device_busy_s', 0) / seconds:.0%} of the run" if seconds else "",
             f"mean batch {d.get('mean_batch')}", f"completion lag mean {d.get('mean_completion_lag_us')} us",
             f"process {cpu.get('user_cores', 0) + cpu.get('system_cores', 0):.2f} cores"]
    if r.get("issue_lag"):
        lag = r["issue_lag"]
        parts.append(f"issue lag p99 {lag['lag_ms']['p99']} ms (SUT-side p99 {lag['sut_ms'].get('p99')} ms; bound missed "
                     f"by: {lag['bound_missed_by']})")
    if "host_copy_bound_samples_per_s" in r:
        parts.append(f"host copy bounds it at {r['host_copy_bound_samples_per_s']:,} samples/s: "
                     f"{r['efficiency_vs_achievable']:.3f} of what this host can reach")
    return "; ".join(p for p in parts if p)


def machine(places: int = 1) -> str:
    """When, which CPU, how many cores and how loaded (the machine may be shared): a figure's first words."""
    import os
    from datetime import UTC, datetime

    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "unknown")
    load = ", ".join(f"{x:.{places}f}" for x in os.getloadavg())
    return f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {cpu}, {os.cpu_count()} cores, load {load}"


def banner(args) -> str:
    """The first line: the machine, and the device modelled."""
    return (f"{machine()}; sim "
            f"a={args.a_us:g} us, b={args.b_us:g} us, k={args.inflight}; Offline batch {args.offline_batch}, Server "
            f"batch {args.server_batch}, max wait {args.max_wait_ms:g} ms, {args.duration:g} s per run, switch interval "
            f"{args.switch_interval or 'default'}, coalesce {args.coalesce}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a-us", type=float, default=300.0)
    parser.add_argument("--b-us", type=float, default=45.0)
    parser.add_argument("--inflight", type=int, default=1)
    parser.add_argument("--offline-batch", type=int, default=512)
    parser.add_argument("--server-batch", type=int, default=96)
    parser.add_argument("--max-wait-ms", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=10.0, help="each run's minimum duration, s")
    parser.add_argument("--count", type=int, default=1024, help="samples (the QSL's performance set)")
    parser.add_argument("--headroom-factors", type=lambda s: [float(x) for x in s.split(",")],
                        default=[1.0, 1.5, 2.0, 3.0, 4.0, 6.0])
    parser.add_argument("--switch-interval", type=float, help="sys.setswitchinterval in the runs (default: 5 ms)")
    parser.add_argument("--coalesce", action="store_true", help="Server: LoadGen's coalesce_queries (a user.conf)")
    parser.add_argument("--only", help="comma-separated rows to run (offline,server,single-stream,multi-stream)")
    parser.add_argument("--smallest", action="store_true", help="every row once at tiny sizes: a smoke run")
    args = parser.parse_args()
    if args.smallest:
        args.duration, args.count, args.offline_batch, args.server_batch = 0.3, 64, 32, 32
        args.headroom_factors = [1.0]
    print(banner(args), flush=True)
    found = rows(args)
    print(f"ceiling {found['ceiling_samples_per_s']:,.0f} samples/s; host gather {found['gather_gb_per_s']} GB/s "
          f"(150,528-byte samples: {found['ceiling_samples_per_s'] * 150528 / 1e9:.2f} GB/s at the ceiling)")
    targets = {"offline": f">= {OFFLINE_SHARE} of the ceiling",
               "server": f"VALID, >= {SERVER_LOAD} of the ceiling, p99 <= {SERVER_P99_MS:g} ms",
               "single-stream": f"p50 within {SINGLE_SLACK_US:g} us of a + b",
               "multi-stream": f"VALID, p99 within {MULTI_SLACK_MS:g} ms of a + 8b"}
    for name, target in targets.items():
        r = found.get(name)
        if r is None:
            continue
        if "error" in r:
            print(f"{name:14s} ERROR {r['error']}")
            continue
        verdict = "MET" if r["met"] else "missed"
        print(f"{name:14s} efficiency {r['efficiency']:.3f}  {r['sps']:,.0f} samples/s  p50 {r['lat']['p50']:.3f} ms  "
              f"p99 {r['lat']['p99']:.3f} ms  {'VALID' if r['valid'] else 'INVALID'}  target: {target}: {verdict}")
        print(f"{'':14s} where: {where(r)}")
    h = found.get("headroom") or {"largest_ceiling_at_0.90": "not run", "tried": []}
    print(f"headroom: largest ceiling with Offline >= {OFFLINE_SHARE}: {h['largest_ceiling_at_0.90']} samples/s "
          f"(tried {h['tried']})")
    print(json.dumps(found))


if __name__ == "__main__":
    main()
