"""Resource budgets before work (issue 18): a run LoadGen cannot hold in memory is refused with the figure, and
`bench fetch` bounds what it downloads (known size, Content-Length, stall timeout), leaves no partial file on any
failure or Ctrl-C, and never caches a cut-short file. Servers are local (127.0.0.1) and real."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from bench.errors import UsageError
from bench.models.fetch import fetch
from bench.models.known import KnownModel

PAYLOAD = os.urandom(300_000)


# Within each option's own range (--target-qps up to 1e6, --duration up to a day), but an hour at a million
# samples/s is billions of scheduled samples: LoadGen would ask for terabytes.
@pytest.mark.parametrize("scenario,qps", [("offline", "1e6"), ("server", "1e6")])
def test_a_run_past_the_machines_memory_is_refused_with_the_figure(bench_cli, tmp_path, scenario, qps):
    start = time.perf_counter()
    result = bench_cli("run", "--backend", "null", "--scenario", scenario, "--target-qps", qps, "--count", "8",
                       "--duration", "3600", "--output", tmp_path / "r")
    assert time.perf_counter() - start < 60, "refused before LoadGen allocates anything"
    assert result.exit_code == 2, result.output
    assert "would need about" in result.output and "GB available" in result.output and "--target-qps" in result.output
    (path,) = (tmp_path / "r").glob("*/result.json")
    record = json.loads(path.read_text())
    assert record["status"] == "failed" and "would need about" in record["error"]


class Faulty(http.server.BaseHTTPRequestHandler):
    """/short: announces 300,000 bytes, sends 1,000 and closes; /stall: sends 1,000 and then nothing (no length);
    /long: more than the table's size, with no Content-Length; /ok: the payload."""

    def do_GET(self):
        if self.path in ("/huge", "/endless"):  # /huge announces 10 GB; /endless sends without end, unannounced
            self.send_response(200)
            if self.path == "/huge":
                self.send_header("Content-Length", str(10 << 30))
            self.end_headers()
            try:
                for _ in range(1 << 16):  # bounded: at most 64 GiB, far past any bound, until the client hangs up
                    self.wfile.write(b"\0" * (1 << 20))
            except OSError:
                pass
            return
        body = {"/short": PAYLOAD[:1000], "/stall": PAYLOAD[:1000], "/ok": PAYLOAD, "/long": PAYLOAD + b"x" * 10}
        self.send_response(200)
        if self.path not in ("/long", "/stall"):  # these two: no Content-Length, the body ends when the server closes
            self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(body[self.path])
        self.wfile.flush()
        if self.path == "/stall":
            time.sleep(30)

    def log_message(self, *args):
        pass


@pytest.fixture
def faulty():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Faulty)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _row(tmp_path: Path, sha: bool = True, size: int = 0) -> KnownModel:
    return KnownModel(name="m", arch="resnet18", format="torch", url="http://127.0.0.1:9/", file="m.pth",
                      sha256=hashlib.sha256(PAYLOAD).hexdigest() if sha else "", preprocessing="torchvision",
                      reference_top1=0.7, size_bytes=size)


@pytest.mark.parametrize("path,sha,size,says", [
    ("/short", False, 0, "cut short"),  # unverified: only the length can tell, and it does
    ("/short", True, 0, "cut short"),
    ("/stall", False, 0, "stalled"),
    ("/long", False, len(PAYLOAD), "sends more than 300,000 bytes"),
    ("/ok", True, 5, "announces 300,000 bytes, but the file is 5"),
])
def test_fetch_never_keeps_a_partial_or_oversized_file(tmp_path, faulty, monkeypatch, path, sha, size, says):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    row = _row(tmp_path, sha, size)
    start = time.perf_counter()
    with pytest.raises(UsageError, match=says):
        fetch(row, Console(stderr=True), faulty + path, accept_unverified=True, timeout_s=2)
    assert time.perf_counter() - start < 20
    kept = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and "complexity" not in p.parts]
    assert not kept, "nothing kept, no partial file (the parameter count behind the size bound may be cached)"
    assert fetch(replace(row, size_bytes=0), Console(stderr=True), faulty + "/ok", accept_unverified=True).read_bytes() \
        == PAYLOAD  # the same row fetches a whole file


def test_a_download_is_bounded_by_the_models_size_not_by_what_the_server_announces(tmp_path, faulty, monkeypatch):
    """A row without a known size (resnet50-mlperf-onnx's) is bounded by what its architecture's weights take:
    a Content-Length past that is refused before a byte is kept, and an unannounced stream stops at the bound."""
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    row = _row(tmp_path, sha=False, size=0)
    bound = row.size_bound()
    assert 11e6 * 4 < bound < 100e6  # resnet18's 11.7M parameters at 4 bytes, and its graph
    start = time.perf_counter()
    with pytest.raises(UsageError, match=f"announces 10,737,418,240 bytes, more than a resnet18 file can hold "
                                         f"\\({bound:,} bytes"):
        fetch(row, Console(stderr=True), faulty + "/huge", accept_unverified=True, timeout_s=5)
    with pytest.raises(UsageError, match=f"sends more than {bound:,} bytes \\(the most a resnet18 file can hold"):
        fetch(row, Console(stderr=True), faulty + "/endless", accept_unverified=True, timeout_s=5)
    assert time.perf_counter() - start < 60
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and "models" in p.parts]
    assert replace(row, size_bytes=5).size_bound() == 5  # a known size is the bound itself


def test_fetch_ctrl_c_exits_130_and_leaves_no_part_file(tmp_path, faulty):
    env = {**os.environ, "BENCH_CACHE": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "bench.cli", "fetch", "resnet50-torchvision-v1", "--url",
                             faulty + "/stall"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while not list((tmp_path / "cache").rglob("*.part")):  # the download has started
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, output
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()], "no partial file is left"


def test_verify_streams_batches_instead_of_holding_every_image(tmp_path):
    import tracemalloc

    from bench.commands.verify import compare
    from bench.config.run_config import RunConfig
    from tests.test_endings import _dataset

    pytest.importorskip("onnxruntime")
    data = _dataset(tmp_path, 128)  # 128 distinct images: 77 MB as float32 if held at once
    cfg = RunConfig(dataset=str(data), model="resnet18", batch_size=4, threads=1)
    compare(["torch", "onnxruntime"], cfg.replace(count=4), 4)  # preprocess nothing big; export the ONNX file once
    compare(["torch", "onnxruntime"], cfg, 4)  # preprocessing cache built: the measured call only reads it
    tracemalloc.start()
    try:
        result = compare(["torch", "onnxruntime"], cfg, 4)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result["count"] == 128 and result["backends"]["onnxruntime"]["agreement"] > 0.9
    assert peak < 30e6, f"verify held {peak / 1e6:.0f} MB of Python/numpy memory: it must stream"
