"""bench fetch over a local http.server and file://, and bench verify (torch vs onnxruntime agreement)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from functools import partial

import pytest
from rich.console import Console

from bench.errors import UsageError
from bench.models.fetch import fetch
from bench.models.known import KnownModel
from tests.conftest import TEST_DATA


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _row(name: str, payload: bytes, url: str) -> KnownModel:
    return KnownModel(name=name, arch="resnet18", format="torch", url=url, file=f"{name}.pth",
                      sha256=hashlib.sha256(payload).hexdigest(), preprocessing="torchvision", reference_top1=0.7)


def test_fetch_http_verifies_and_caches(server):
    root, base = server
    payload = b"weights" * 50_000
    (root / "w.pth").write_bytes(payload)
    row = _row("test-http", payload, f"{base}/w.pth")
    path = fetch(row, Console(stderr=True))
    assert path.read_bytes() == payload and path == row.path
    (root / "w.pth").unlink()  # cached now: no second download
    assert fetch(row, Console(stderr=True)) == path


def test_fetch_file_url_and_wrong_hash(tmp_path):
    src = tmp_path / "w.pth"
    src.write_bytes(b"abc")
    assert fetch(_row("test-file", b"abc", src.as_uri()), Console(stderr=True)).read_bytes() == b"abc"
    bad = _row("test-bad", b"something else", src.as_uri())
    with pytest.raises(UsageError, match="expected"):
        fetch(bad, Console(stderr=True))
    assert not bad.path.exists()


def test_fetch_cli_offline_says_where_to_put_it(bench_cli):
    result = bench_cli("fetch", "resnet50-torchvision-v1", "--url", "http://127.0.0.1:9/none.pth")
    assert result.exit_code == 2
    assert "put it at" in result.output and "resnet50-0676ba61.pth" in result.output


def test_fetch_cli_wrong_file_refused(bench_cli, server):
    root, base = server
    (root / "x.pth").write_bytes(b"not resnet50")
    result = bench_cli("fetch", "resnet50-torchvision-v2", "--url", f"{base}/x.pth")
    assert result.exit_code == 2 and "11ad3fa62ca79e40" in result.output
    assert bench_cli("fetch", "resnet50-mlperf-onnx").exit_code == 2  # no sha256 published: asks first


def test_verify_agrees(bench_cli):
    result = bench_cli("verify", "--backends", "torch,onnxruntime", "--dataset", TEST_DATA / "imagenet",
                       "--count", "8", "--model", "resnet18", "--threads", "1", "--json")
    assert result.exit_code == 0, result.output
    assert '"agreement": 1.0' in result.output or '"passed": true' in result.output
