"""The remote backend against a real server on 127.0.0.1: `bench serve --backend null` (NVIDIA PyTriton, Triton
Inference Server), over HTTP and gRPC, through the real CLI. Faults are staged for real: a wrong model name, a refused
connection, metadata that does not fit the run, a server stopped mid-run (SIGSTOP: a stall) and one killed mid-run,
one of two endpoints lost mid-run, and HTTP 500s from a served model (a PyTriton one of its own) that raises.

Needs tritonclient here (pip install 'bench[remote]') and an interpreter with PyTriton and numpy<2 for the server
(pip install 'bench[serve]' in a venv of its own; BENCH_SERVE_PYTHON names it, else ./.venv-serve/bin/python, else
this interpreter); otherwise skipped with the reason.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.remote_targets import env, free_base  # one copy: the benchmark starts bench serve alike

pytest.importorskip("tritonclient.grpc", reason="tritonclient is not installed: pip install 'bench[remote]'")
pytest.importorskip("tritonclient.http", reason="tritonclient is not installed: pip install 'bench[remote]'")
# One worker runs this file in its order: the faults (a stall, a kill) are staged on the module's server between
# tests that expect it healthy (pytest -n: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("remote")

ROOT = Path(__file__).resolve().parents[1]
START_S = 240.0  # Triton's start and the model's binding, on 2 busy cores
SERVED = ["--backend", "null", "--null-image-size", "4", "--batch-size", "8"]
MODEL = "resnet50"  # bench serve names the served model after --model
SECRET = "s3cr3t-token-never-written"


def serve_python() -> str:
    """An interpreter that can run `bench serve`, or skip saying why."""
    candidates = [os.environ.get("BENCH_SERVE_PYTHON"), str(ROOT / ".venv-serve" / "bin" / "python"), sys.executable]
    reasons = []
    for python in filter(None, candidates):
        if not Path(python).exists():
            continue
        probe = subprocess.run([python, "-c", "import numpy, pytriton.triton; assert int(numpy.__version__[0]) < 2"],
                               check=False, capture_output=True, text=True, timeout=120)
        if probe.returncode == 0:
            return python
        reasons.append(f"{python}: {(probe.stderr.strip().splitlines() or ['?'])[-1]}")
    pytest.skip("no interpreter with PyTriton and numpy<2 for bench serve (pip install 'bench[serve]' in a venv, "
                "then BENCH_SERVE_PYTHON=that venv's python): " + "; ".join(reasons))


class Server:
    """`bench serve` in a session of its own, so its Triton and stub processes are signalled with it."""

    def __init__(self, tmp: Path, cmd: list[str] | None = None):
        self.port, self.log = free_base(), tmp / f"serve-{time.monotonic_ns()}.log"
        cmd = [*cmd, str(self.port)] if cmd else [serve_python(), "-m", "bench.cli", "serve", *SERVED, "--port",
                                                  str(self.port)]
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env(),
                                         cwd=ROOT, start_new_session=True)
        deadline = time.monotonic() + START_S
        while "Ctrl-C stops" not in self.log.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"bench serve did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.5)
        self.http, self.grpc = f"http://127.0.0.1:{self.port}", f"grpc://127.0.0.1:{self.port + 1}"

    def signal(self, signum: int) -> None:
        os.killpg(self.proc.pid, signum)  # the group this test started (start_new_session)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.proc.wait(30)
        try:
            self.signal(signal.SIGKILL)  # Triton or its stub, should either outlive bench serve
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("serve"))
    yield s
    s.stop()


def bench_run(url: str, out: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "bench.cli", "run", "--backend", "remote", "--url", url, "--null-image-size", "4",
           "--count", "64", "--duration", "0.5", "--output", str(out), *args]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, env=env(), cwd=ROOT, timeout=timeout)


def records(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*/result.json"))]


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_every_scenario_over_the_network(server, tmp_path, protocol):
    url = getattr(server, protocol)
    for scenario in ("offline", "server", "single-stream", "multi-stream"):
        done = bench_run(url, tmp_path, "--remote-model", MODEL, "--scenario", scenario, "--concurrency", "2")
        assert done.returncode == 0, (scenario, done.stderr[-2000:])
    runs = records(tmp_path)
    assert sorted(r["config"]["scenario"] for r in runs) == ["multi-stream", "offline", "server", "single-stream"]
    for r in runs:
        assert r["status"] == "complete"
        assert r["backend"]["endpoints"] == [url] and r["backend"]["protocol"] == protocol
        assert r["backend"]["input"] == {"name": "images", "datatype": "FP32", "shape": [-1, 3, 4, 4]}
        assert r["performance"]["samples"] > 0
        assert r["performance"]["per_device"][0]["endpoint"] == url
        split = r["performance"]["server_time"]  # Triton's statistics extension, read around the timed run
        assert split["available"] and split["source"] == "triton statistics extension", split
        assert split["requests"] == r["performance"]["per_device"][0]["requests"]
        # The server's counters may also hold a warm-up request still being counted when they were first read (at
        # most one per request in flight, --concurrency 2), never fewer than the client saw answered.
        assert 0 <= split["server_requests"] - split["requests"] <= 2, split
        phases = [split[f"{k}_ms"] for k in ("queue", "compute_input", "infer", "compute_output")]
        assert all(v >= 0 for v in phases) and split["infer_ms"] > 0, split
        assert split["other_ms"] == pytest.approx(split["client_ms"] - sum(phases), abs=1e-3)
        assert 0 <= split["other_ms"] < split["client_ms"], split
        detail = Path(r["run_dir"], "loadgen", "performance", "mlperf_log_detail.txt").read_text()
        assert '"sut_name", "value": "bench remote Network SUT"' in detail  # MLPerf's Network division
    offline = next(r for r in runs if r["config"]["scenario"] == "offline")
    single = next(r for r in runs if r["config"]["scenario"] == "single-stream")
    shown = subprocess.run([sys.executable, "-m", "bench.cli", "compare", offline["run_dir"], single["run_dir"]],
                           check=False, capture_output=True, text=True, env={**env(), "COLUMNS": "240"}, cwd=ROOT,
                           timeout=120)
    assert shown.returncode == 0, shown.stderr[-2000:]
    for heading in ("endpoints", "server_time", "server queue ms", "server infer ms", "network+client ms"):
        assert heading in shown.stdout, (heading, shown.stdout[-3000:])
    assert url in shown.stdout and "triton statistics extension" in shown.stdout


def test_two_endpoints_share_the_work(server, tmp_path):
    """A --url list: requests go to the endpoint with the fewest outstanding, each one's share is recorded."""
    urls = [server.http, server.grpc]  # one server, two protocols: two endpoints serving the same model
    done = bench_run(",".join(urls), tmp_path, "--remote-model", MODEL, "--concurrency", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    (run,) = records(tmp_path)
    shares = run["performance"]["per_device"]
    assert [s["endpoint"] for s in shares] == urls and run["backend"]["protocol"] == "grpc,http"
    assert all(s["samples"] > 0 for s in shares) and sum(s["samples"] for s in shares) >= run["performance"]["samples"]


@pytest.mark.parametrize(("args", "words"), [
    (["--remote-model", "nosuch"], ["no model 'nosuch'", "--remote-model"]),
    (["--remote-model", MODEL, "--precision", "fp16"], ["datatype is FP32", "--precision fp16"]),
    (["--remote-model", MODEL, "--batch-size", "16"], ["max_batch_size is 8", "--batch-size 8"]),
    ([], ["cannot list its models", "--remote-model"]),  # PyTriton guards the repository API
])
def test_a_mismatch_stops_before_timing(server, tmp_path, args, words):
    done = bench_run(server.grpc, tmp_path, *args)
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"endpoint {server.grpc}" in done.stderr and all(w in done.stderr for w in words), done.stderr
    assert "running LoadGen" not in done.stderr


def test_a_dataset_the_server_does_not_take_is_refused(server, tmp_path):
    cmd_args = ["--remote-model", MODEL]
    done = subprocess.run([sys.executable, "-m", "bench.cli", "run", "--backend", "remote", "--url", server.http,
                           "--null-image-size", "8", "--count", "8", "--output", str(tmp_path), *cmd_args],
                          check=False, capture_output=True, text=True, env=env(), cwd=ROOT, timeout=120)
    assert done.returncode == 2 and "shape is [3, 4, 4] per sample" in done.stderr and "[3, 8, 8]" in done.stderr


def test_a_refused_connection_stops_before_timing(tmp_path):
    port = free_base()
    for url in (f"http://127.0.0.1:{port}", f"grpc://127.0.0.1:{port}"):
        done = bench_run(url, tmp_path, "--remote-model", MODEL)
        assert done.returncode == 2 and f"endpoint {url}: cannot reach the server" in done.stderr, done.stderr
    assert all(r["status"] == "failed" and not r.get("performance") for r in records(tmp_path))


def test_a_header_is_sent_but_never_written(server, tmp_path):
    done = bench_run(server.http, tmp_path, "--remote-model", MODEL, "--header", f"Authorization: Bearer {SECRET}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert SECRET not in done.stdout + done.stderr
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    (run,) = records(tmp_path)
    assert run["config"]["extra"]["header"] == "Authorization: <redacted>"
    assert run["backend"]["headers"] == ["Authorization"]


def run_and_then(server: Server, tmp_path: Path, act, *args: str, url: str | None = None) -> tuple[int, str, dict]:
    """Start a long run, `act` on the server once LoadGen is timing, and return the run's exit, stderr and record."""
    log = tmp_path / "run.log"
    with open(log, "w") as err:
        cmd = [sys.executable, "-m", "bench.cli", "run", "--backend", "remote", "--url", url or server.grpc,
               "--remote-model", MODEL, "--null-image-size", "4", "--count", "64", "--duration", "20",
               "--output", str(tmp_path / "out"), *args]
        proc = subprocess.Popen(cmd, stdout=open(tmp_path / "run.out", "w"), stderr=err,  # noqa: SIM115
                                env={**env(), "COLUMNS": "400"}, cwd=ROOT)
    deadline = time.monotonic() + 120
    while "running LoadGen" not in log.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    time.sleep(1.0)  # well inside the timed run
    act()
    rc = proc.wait(120)  # a stalled or dead server must end the run, not hang it
    latest = max((tmp_path / "out").glob("*/result.json"), key=lambda p: p.stat().st_mtime)
    return rc, log.read_text(), json.loads(latest.read_text())


def test_a_stalled_server_times_out(tmp_path):
    server = Server(tmp_path)  # its own: a PyTriton stopped (SIGSTOP) does not come back, so no later test shares it
    started = time.monotonic()
    try:
        rc, err, record = run_and_then(server, tmp_path, lambda: server.signal(signal.SIGSTOP),
                                       "--request-timeout-ms", "1500")
    finally:
        server.signal(signal.SIGCONT)
        server.stop()
    assert rc == 1, err
    assert record["status"] == "failed" and f"endpoint {server.grpc}" in record["error"]
    assert "time-out 1.5 s" in record["error"] and time.monotonic() - started < 60


def test_a_server_killed_mid_run_fails_the_run_and_spares_earlier_results(tmp_path):
    own = Server(tmp_path)
    try:
        earlier = bench_run(own.grpc, tmp_path / "out", "--remote-model", MODEL)
        assert earlier.returncode == 0, earlier.stderr[-2000:]
        (first,) = list((tmp_path / "out").glob("*/result.json"))
        before = first.read_bytes()
        rc, err, record = run_and_then(own, tmp_path, lambda: own.signal(signal.SIGKILL),
                                       "--request-timeout-ms", "5000")
    finally:
        own.stop()
    assert rc == 1, err
    assert record["status"] == "failed" and f"endpoint {own.grpc}" in record["error"], record["error"]
    assert first.read_bytes() == before


def test_remote_options_are_refused_elsewhere_and_checked(tmp_path):
    for args, words in ((["--backend", "null", "--url", "grpc://127.0.0.1:1"], "--url applies to the remote"),
                        (["--backend", "remote", "--url", "tcp://127.0.0.1:1"], "scheme one of"),
                        (["--backend", "remote"], "needs --url"),
                        (["--backend", "remote", "--url", "grpc://127.0.0.1:1", "--header", "novalue"],
                         "--header must be")):
        done = subprocess.run([sys.executable, "-m", "bench.cli", "run", *args, "--output", str(tmp_path)],
                              check=False, capture_output=True, text=True, env=env(), cwd=ROOT, timeout=120)
        assert done.returncode == 2 and words in done.stderr, (args, done.stderr)


def test_a_server_without_statistics_is_recorded_as_such(tmp_path):
    """PyTriton's own default guards the statistics extension with a token: the run completes, the record says why
    it has no client/server split."""
    script = ROOT / "tests" / "pytriton_guarded.py"
    s = Server.__new__(Server)  # its stop(), around a PyTriton server of this test's own
    s.port, s.log = free_base(), tmp_path / "guarded.log"
    with open(s.log, "w") as out:
        s.proc = subprocess.Popen([serve_python(), str(script), str(s.port)], stdout=out, stderr=subprocess.STDOUT,
                                  env=env(), cwd=ROOT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_S
        while "Ctrl-C stops" not in s.log.read_text():
            assert s.proc.poll() is None and time.monotonic() < deadline, s.log.read_text()[-2000:]
            time.sleep(0.5)
        done = bench_run(f"http://127.0.0.1:{s.port}", tmp_path / "runs", "--batch-size", "8",
                         "--remote-model", MODEL)
        assert done.returncode == 0, done.stderr[-2000:]
        (run,) = records(tmp_path / "runs")
        split = run["performance"]["server_time"]
        assert split["available"] is False and "no statistics extension" in split["reason"], split
        assert "403" in split["reason"] and f"127.0.0.1:{s.port}" in split["reason"], split
    finally:
        s.stop()


def lose_an_endpoint(server, tmp_path: Path, *args: str) -> tuple[str, int, str, dict]:
    """A run over `server` and a server of its own, the latter killed mid-run (a stalled PyTriton exits too)."""
    own = Server(tmp_path)
    tmp_path.mkdir(exist_ok=True)
    try:
        return own.grpc, *run_and_then(own, tmp_path, lambda: own.signal(signal.SIGKILL), "--request-timeout-ms",
                                       "5000", "--concurrency", "2", *args, url=f"{server.grpc},{own.grpc}")
    finally:
        own.stop()


def test_an_endpoint_lost_mid_run_fails_the_run_naming_it(server, tmp_path):
    lost, rc, err, record = lose_an_endpoint(server, tmp_path)
    assert rc == 1, err
    assert record["status"] == "failed" and f"endpoint {lost} taken out" in record["error"], record["error"]
    assert "--allow-endpoint-loss" in record["error"]


def test_allow_endpoint_loss_goes_on_and_records_the_loss(server, tmp_path):
    """The run goes on with the other; the record says which endpoint was lost and names the samples re-sent (their
    sample indices, the first 100), as does the terminal's summary."""
    lost, rc, err, record = lose_an_endpoint(server, tmp_path, "--allow-endpoint-loss")
    assert rc == 0, err
    assert record["status"] == "complete" and record["config"]["extra"]["allow_endpoint_loss"] is True
    kept, gone = record["performance"]["per_device"]
    assert kept["endpoint"] == server.grpc and "lost" not in kept and kept["samples"] > 0
    assert gone["endpoint"] == lost and gone["samples"] > 0 and gone["resent_samples"] > 0, gone
    named = gone["resent_sample_indices"]  # the dataset's (--count 64) sample indices, as LoadGen issued them
    assert len(named) == min(100, gone["resent_samples"]) and all(0 <= i < 64 for i in named), gone
    shown = (tmp_path / "run.out").read_text()
    assert "endpoint lost" in shown and lost in shown and f"indices {named[:3]}"[:-1] in shown, shown[-2000:]
    split = record["performance"]["server_time"]  # no split over an endpoint that left mid-run: said so
    assert split["available"] is False and "taken out mid-run" in split["reason"], split


RAISING = """
import sys, time
import numpy as np
from pytriton.decorators import batch
from pytriton.model_config import ModelConfig, Tensor
from bench.commands import serve
import os
os.environ["LD_LIBRARY_PATH"] = str(serve.own_libpython())
pt = serve.pytriton()
calls = [0]

@batch
def infer(images):
    calls[0] += 1
    if calls[0] > 20:  # a model that fails on later inputs: Triton answers HTTP 500
        raise ValueError("the model failed on this batch")
    return {"classes": np.zeros((len(images), 1), dtype=np.int64)}

port = int(sys.argv[1])
t = pt.Triton(config=pt.TritonConfig(http_address="127.0.0.1", http_port=port, grpc_address="127.0.0.1",
                                    grpc_port=port + 1, metrics_address="127.0.0.1", metrics_port=port + 2))
t.bind(model_name="raises", infer_func=infer, inputs=[Tensor(name="images", dtype=np.float32, shape=(3, 4, 4))],
       outputs=[Tensor(name="classes", dtype=np.int64, shape=(1,))], config=ModelConfig(max_batch_size=8), strict=True)
t.run()
print("Ctrl-C stops", flush=True)
try:
    while True:
        time.sleep(1)
finally:
    t.stop()
"""


def test_a_server_error_fails_the_run_naming_the_endpoint(tmp_path):
    """A served model that raises for some inputs: Triton answers HTTP 500; the run fails, the record says where."""
    own = Server(tmp_path, [serve_python(), "-c", RAISING])
    try:
        done = bench_run(own.http, tmp_path / "out", "--remote-model", "raises", "--duration", "5")
    finally:
        own.stop()
    assert done.returncode == 1, done.stderr[-2000:]
    (record,) = records(tmp_path / "out")
    assert record["status"] == "failed" and f"endpoint {own.http}, model raises" in record["error"], record["error"]
    assert "[500]" in record["error"] and "Model execute error" in record["error"], record["error"]
    assert "\n" not in record["error"] and "taken out" not in record["error"]


def test_bench_submission_refuses_a_remote_run_in_the_closed_division_naming_the_network_rules(server, tmp_path):
    """A Network SUT is no closed-division result (the checker wants is_network false there); the refusal says which
    of the Network division's rules the run misses: here, a server on this machine, and a Server batch of 8."""
    done = bench_run(server.grpc, tmp_path / "results", "--remote-model", MODEL, "--scenario", "server",
                     "--batch-size", "8")
    assert done.returncode == 0, done.stderr[-2000:]
    before = {p: p.read_bytes() for p in (tmp_path / "results").rglob("*") if p.is_file()}
    refused = subprocess.run([sys.executable, "-m", "bench.cli", "submission", "--results", str(tmp_path / "results"),
                              "--out", str(tmp_path / "sub"), "--submitter", "Acme", "--division", "closed"],
                             check=False, capture_output=True, text=True, env=env(), cwd=ROOT, timeout=120)
    said = " ".join(refused.stderr.split())
    assert refused.returncode == 2, said
    assert "a Network SUT" in said and server.grpc in said and "--division open" in said
    assert '"The SUT and QDL must run on physically separate and distinct systems"' in said
    assert '"The QDL is not allowed to batch queries": --batch-size 8' in said
    assert not (tmp_path / "sub" / "closed").exists()
    assert before == {p: p.read_bytes() for p in (tmp_path / "results").rglob("*") if p.is_file()}


def test_a_sweep_plan_names_remote_cells(server, tmp_path):
    """Remote cells in a sweep plan: each cell one `bench run --backend remote`, its record naming its endpoint."""
    plan = tmp_path / "remote.toml"
    plan.write_text(f"""
[defaults]
backend = "remote"
remote-model = "{MODEL}"
null-image-size = 4
count = 64
duration = 0.5
[matrix]
url = ["{server.http}", "{server.grpc}"]
""")
    done = subprocess.run([sys.executable, "-m", "bench.cli", "sweep", str(plan), "--output", str(tmp_path / "out")],
                          check=False, capture_output=True, text=True, env=env(), cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = [json.loads(p.read_text()) for p in (tmp_path / "out").rglob("result.json")]
    assert sorted(r["backend"]["endpoints"][0] for r in runs) == sorted([server.http, server.grpc])
    assert {r["backend"]["protocol"] for r in runs} == {"http", "grpc"}
    assert all(r["status"] == "complete" and r["performance"]["samples"] > 0 for r in runs)
