"""Times `bench tune --scenario server` end to end, then checks its user.conf with a fresh `bench run`.

Usage: python benchmarks/tune_server.py [--backend onnxruntime] [--latency-bound-ms 1000] [--output DIR] [-- extra
bench options]. Prints the tune's elapsed time, chosen QPS and confirming run, then the fresh run's verdict; the
last line is one JSON object with those figures.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

from bench.system import sysinfo


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="onnxruntime")
    parser.add_argument("--latency-bound-ms", default="1000")
    parser.add_argument("--output", default=tempfile.mkdtemp(prefix="tune-"))
    parser.add_argument("extra", nargs="*", help="more bench options, after --")
    args = parser.parse_args()
    tune_cmd = ["bench", "tune", "--backend", args.backend, "--scenario", "server",
                "--latency-bound-ms", args.latency_bound_ms, "--output", args.output, *args.extra]
    print("$", shlex.join(tune_cmd), flush=True)
    start = time.perf_counter()
    tuned = subprocess.run(tune_cmd)
    elapsed = time.perf_counter() - start
    summary = json.load(open(os.path.join(args.output, "tune.json")))
    print(f"tune: exit {tuned.returncode}, {elapsed:.0f} s, target_qps {summary['value']}, "
          f"confirming runs: {[c['loadgen_validity'] for c in summary['confirmations']]}", flush=True)

    # A fresh process, as a user would run it: the printed command with the written user.conf.
    runs = os.path.join(args.output, "check")
    run_cmd = shlex.split(summary["command"]) + ["--output", runs]
    print("$", shlex.join(run_cmd), flush=True)
    subprocess.run(run_cmd)
    (result,) = glob.glob(os.path.join(runs, "*", "result.json"))
    perf = json.load(open(result))["performance"]
    print(json.dumps({"cpu": sysinfo.collect()["cpu"], "load_avg_1m": os.getloadavg()[0],
                      "tune_elapsed_s": round(elapsed, 1), "target_qps": summary["value"],
                      "trials": len(summary["trials"]), "confirming_valid": summary["valid"],
                      "fresh_run_valid": perf["valid"], "fresh_run_p99_ms": perf["latency_ms"]["p99"],
                      "fresh_run_scheduled_qps": perf["result_metric"]["value"]}))
    sys.exit(0 if summary["valid"] and perf["valid"] else 1)


if __name__ == "__main__":
    main()
