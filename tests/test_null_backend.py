"""The null backend as the harness's measuring tool, and the hot path's reused batch buffer."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from bench import backends
from bench.data.dataset import SyntheticDataset
from bench.run import latency
from bench.run.qsl import SampleStore
from tests.conftest import TEST_DATA, only_run


def test_null_is_hidden_from_the_default_list_and_shown_with_all(bench_cli):
    assert "null" not in backends.names() and "null" in backends.names(include_hidden=True)
    assert "null" not in bench_cli("backends").output
    assert "null" in bench_cli("backends", "--all").output


@pytest.mark.parametrize("scenario", ["offline", "server", "single-stream"])
def test_tiny_null_run_times_the_harness_and_records_every_latency(bench_cli, results_dir, scenario):
    extra = ["--target-qps", "2000"] if scenario == "server" else []
    result = bench_cli("run", "--backend", "null", "--scenario", scenario, "--null-image-size", "1", "--count", "64",
                       "--duration", "1", "--output", results_dir, *extra)
    assert result.exit_code == 0, result.output
    record = only_run(results_dir)
    assert record["status"] == "complete" and record["backend"]["image_size"] == 1
    perf = record["performance"]
    # Per-query latency recording (bench.run.latency) sees every sample LoadGen counted, through the fast SUT's lists.
    assert perf["latencies"]["count"] == perf["samples"] > 0
    assert len(latency.load(results_dir / record["run_id"])) == perf["samples"]  # the file says the same
    if scenario == "offline":
        assert perf["valid"], perf["invalid_reasons"]


def test_null_image_size_is_refused_for_real_backends(bench_cli, results_dir):
    result = bench_cli("run", "--backend", "onnxruntime", "--null-image-size", "1", "--model", "resnet18",
                       "--count", "4", "--output", results_dir)
    assert result.exit_code == 2
    assert "--null-image-size applies to the null and remote backends" in result.output


def test_reused_batch_equals_a_fresh_copy_and_is_per_thread():
    store = SampleStore(SyntheticDataset(16, 8))
    store.load(range(16))
    indices = np.array([3, 0, 15, 3])
    first = store.batch(indices, reuse=True)
    np.testing.assert_array_equal(first, store.batch(indices))
    assert first.flags.c_contiguous and first.shape == (4, 3, 8, 8)
    second = store.batch(np.array([1, 2]), reuse=True)  # smaller batches reuse the same buffer
    assert np.shares_memory(first, second)
    np.testing.assert_array_equal(second, store.data[[1, 2]])
    other = {}
    t = threading.Thread(target=lambda: other.update(b=store.batch(indices, reuse=True)))
    t.start()
    t.join()
    assert not np.shares_memory(first, other["b"])  # worker threads never share a buffer
    with pytest.raises(RuntimeError, match="not loaded"):
        store.unload(range(16))
        store.load([0, 1])
        store.batch(np.array([5]), reuse=True)


def test_null_image_size_is_refused_on_real_images(bench_cli, results_dir):
    result = bench_cli("run", "--backend", "null", "--null-image-size", "1", "--dataset", TEST_DATA / "imagenet",
                       "--count", "4", "--output", results_dir)
    assert result.exit_code == 2 and "synthetic images only" in result.output, result.output
