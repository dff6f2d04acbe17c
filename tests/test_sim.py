"""The simulated accelerator (backends/sim_backend.py): its exact device model, the uint8 data path it takes, what the
record says of that path, Server's issue lag, and benchmarks/sim_targets.py's smoke run."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from bench.backends.base import BackendOptions
from bench.backends.sim_backend import SimBackend, classes_of
from bench.data.dataset import SyntheticDataset
from bench.models.spec import ModelSpec
from bench.run.latency import LatencyRecorder
from bench.run.qsl import SampleStore
from tests.conftest import ROOT, TEST_DATA, only_run

RESNET_UINT8_BYTES = 224 * 224 * 3  # 150,528: one ResNet-50 sample as uint8 NHWC


def sim(a_us: float, b_us: float, k: int = 1, batch: int = 8) -> SimBackend:
    backend = SimBackend()
    backend.load(ModelSpec("resnet50"), BackendOptions(batch_size=batch, extra={
        "sim_a_us": a_us, "sim_b_us": b_us, "sim_inflight": k}))
    return backend


@pytest.mark.parametrize("scenario", ["offline", "server", "single-stream", "multi-stream"])
def test_sim_runs_every_scenario_on_uint8_samples_with_one_host_copy_per_batch(bench_cli, results_dir, scenario):
    extra = ["--target-qps", "2000"] if scenario == "server" else []
    result = bench_cli("run", "--backend", "sim", "--scenario", scenario, "--count", "32", "--batch-size", "8",
                       "--duration", "0.2", "--mode", "both", "--output", results_dir, *extra)
    assert result.exit_code == 0, result.output
    assert "ceiling 22,222 samples/s" in result.output  # it prints its own capacity
    record = only_run(results_dir)
    assert record["status"] == "complete"
    assert record["backend"]["model"]["ceiling_samples_per_s"] == pytest.approx(22222.2, abs=0.1)
    path = record["performance"]["data_path"]
    # Read from the array the store held and the copies counted in the timed run, not declared.
    assert path["dtype"] == "uint8" and path["layout"] == "NHWC" and path["bytes_per_sample"] == RESNET_UINT8_BYTES
    assert path["asynchronous"] and path["batches"] > 0
    # One host copy per batch; none where the batch is one sample, which the device reads in place in the store
    # (every SingleStream query, and Server's batches of one), counted batch by batch.
    assert path["gathers_per_batch"] + path["read_in_place_per_batch"] == pytest.approx(1.0, abs=0.002)
    assert path["read_in_place_per_batch"] == (1.0 if scenario == "single-stream" else pytest.approx(0, abs=0.5))
    if scenario == "multi-stream":  # 8 samples a query, always gathered (Offline's last batch may be one sample)
        assert path["gathers_per_batch"] == 1.0
    assert path["backend_copies_per_batch"] == 0.0 and path["host_copies_per_batch"] == path["gathers_per_batch"]
    assert path["device"]["samples"] == record["performance"]["samples"]  # the device saw every timed sample
    assert record["accuracy"] is not None  # accuracy mode ran end to end on the sim's class ids
    assert ("issue_lag" in record["performance"]) == (scenario == "server")


def test_a_float32_backend_records_its_own_form_and_uncounted_backend_copies(bench_cli, results_dir):
    result = bench_cli("run", "--backend", "null", "--null-image-size", "2", "--count", "16", "--duration", "0.2",
                       "--output", results_dir)
    assert result.exit_code == 0, result.output
    path = only_run(results_dir)["performance"]["data_path"]
    assert path["dtype"] == "float32" and path["layout"] == "NCHW" and path["bytes_per_sample"] == 3 * 2 * 2 * 4
    assert not path["asynchronous"] and path["gathers_per_batch"] == 1.0
    assert path["backend_copies_per_batch"] is None and path["host_copies_per_batch"] is None  # never guessed


def test_the_device_model_is_exact_and_overlaps_batches_in_flight():
    """Completion = max(submit, a slot frees) + a + b*n; with k=2 two batches run at once."""
    for k in (1, 2):
        backend = sim(a_us=20_000, b_us=1_000, k=k, batch=10)
        done_at, submitted = [], []
        try:
            start = time.perf_counter()
            for n in (10, 10, 10):
                submitted.append(time.perf_counter())
                backend.submit(n, lambda out: out, lambda classes, exc, seen=done_at: seen.append(time.perf_counter()))
            deadline = time.perf_counter() + 5
            while len(done_at) < 3 and time.perf_counter() < deadline:
                time.sleep(0.005)
        finally:
            backend.close()
        per = 0.030  # a + b*n = 20 ms + 10 ms
        expected = [start + per * (i // k + 1) for i in range(3)]  # k slots: batches i and i+1 together when k=2
        assert len(done_at) == 3
        for got, want in zip(done_at, expected):
            # Never before the model's time (exact); late only by the host's wake-up (loaded CI machine: generous).
            assert want - 0.002 <= got <= want + 0.05, (k, [d - start for d in done_at])
        assert backend.run_stats()["device_busy_s"] == pytest.approx(3 * per, rel=1e-6)


def test_the_sim_holds_no_gil_while_it_computes():
    backend = sim(a_us=200_000, b_us=1)  # one batch: 200 ms on the device
    finished = threading.Event()
    try:
        backend.submit(1, lambda out: out, lambda classes, exc: finished.set())
        start, turns = time.perf_counter(), 0
        while not finished.is_set() and time.perf_counter() - start < 5:
            turns += 1  # pure Python: runs only while this thread has the GIL
        elapsed = time.perf_counter() - start
    finally:
        backend.close()
    assert 0.19 <= elapsed < 1.0
    assert turns > 100_000  # a device thread holding the GIL would leave this loop a few switch intervals only


def test_predict_copies_a_foreign_buffer_into_staging_and_counts_it():
    backend = sim(a_us=1, b_us=1, batch=4)
    try:
        batch = np.arange(4 * 224 * 224 * 3, dtype=np.uint64).astype(np.uint8).reshape(4, 224, 224, 3)
        np.testing.assert_array_equal(backend.predict(batch), classes_of(batch))
        assert backend.run_stats()["extra_copies"] == 1
    finally:
        backend.close()


def test_staged_batches_are_gathered_once_or_read_in_place():
    store = SampleStore(SyntheticDataset(16, 8), form="uint8-nhwc")
    store.load(range(16))
    staging = np.zeros((3, 8, 8, 3), np.uint8)
    got = store.batch(np.array([7, 2, 9]), out=staging)
    assert got is staging and store.gathers == 1
    np.testing.assert_array_equal(staging, store.data[[7, 2, 9]])
    assert store.batch(np.array([4, 5, 6]), out=staging) is staging and store.gathers == 2  # a batch: gathered
    block = store.batch(np.array([5]), out=staging[:1])  # one sample: read in place, no copy
    assert np.shares_memory(block, store.data) and store.gathers == 2
    np.testing.assert_array_equal(block, store.data[5:6])
    with pytest.raises(RuntimeError, match="does not fit"):
        store.batch(np.array([1, 2]), out=staging)


def test_uint8_store_holds_only_the_performance_set_whatever_the_dataset_size():
    sizes = {}
    for count in (64, 20_000):
        store = SampleStore(SyntheticDataset(count, 224), form="uint8-nhwc")
        store.load(range(32))
        sizes[count] = store.data.nbytes
        assert store.describe()["bytes_per_sample"] == RESNET_UINT8_BYTES and store.data.dtype == np.uint8
    assert sizes[64] == sizes[20_000] == 32 * RESNET_UINT8_BYTES


def test_sim_on_a_dataset_without_exact_uint8_samples_stops_before_timing(bench_cli, results_dir):
    # ImageNet under an integer profile gives exact uint8 (tests/test_device_input.py); TF's bicubic resize does not.
    result = bench_cli("run", "--backend", "sim", "--dataset", TEST_DATA / "imagenet", "--count", "4",
                       "--preprocessing", "tf-efficientnet-lite", "--output", results_dir)
    assert result.exit_code == 2 and "uint8-nhwc" in result.output and "--dataset synthetic" in result.output


def test_sim_options_are_refused_for_other_backends(bench_cli, results_dir):
    result = bench_cli("run", "--backend", "null", "--sim-b-us", "10", "--output", results_dir)
    assert result.exit_code == 2 and "--sim-b-us applies to the sim backend only" in result.output


def test_issue_lag_says_whether_loadgen_or_the_sut_missed_the_bound():
    recorder = LatencyRecorder()
    issue = recorder.wrap(lambda ids, indices: None)
    issue([0, 1], [0, 0])
    t = time.perf_counter_ns()
    recorder.completed([0, 1], t + 10_000_000)  # the SUT's own 10 ms (from the issue callback)
    perf = {"latency_ms": {"p99": 20.0, "mean": 18.0}, "target_latency_ms": 15.0}
    lag = recorder.issue_lag(perf)
    assert lag["bound_missed_by"] == "issue_lag" and lag["lag_ms"]["p99"] == pytest.approx(10.0, abs=0.5)
    perf["target_latency_ms"] = 5.0  # the SUT's own time misses it too
    assert recorder.issue_lag(perf)["bound_missed_by"] == "sut"
    perf["target_latency_ms"] = 25.0
    assert recorder.issue_lag(perf)["bound_missed_by"] is None


def test_sim_targets_smallest_prints_every_row():
    done = subprocess.run([sys.executable, "benchmarks/sim_targets.py", "--smallest"], cwd=ROOT, check=False,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("offline", "server", "single-stream", "multi-stream"):
        assert "error" not in found[name], found[name]
        assert 0 < found[name]["efficiency"] <= 1.05, found[name]
    assert found["ceiling_samples_per_s"] == pytest.approx(22222.2, abs=0.1) and found["gather_gb_per_s"] > 0
    assert found["headroom"]["tried"] and "largest_ceiling_at_0.90" in found["headroom"]
    assert "efficiency" in done.stdout and "headroom" in done.stdout
