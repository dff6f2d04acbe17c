"""TensorRT backend: refused clearly without TensorRT; its cache keys and calibration batches tested for real (no
TensorRT needed); engine build, cache hit and agreement with onnxruntime where TensorRT and a GPU are present."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from backends.tensorrt_backend import CalibrationBatches, calibration_cache_path, engine_path, images_id
from tests.conftest import FAST_RUN, TEST_DATA, only_run

HAS_TRT = importlib.util.find_spec("tensorrt") is not None
IMAGES = sorted((TEST_DATA / "imagenet").glob("*.JPEG"))  # bundled: 40 real images


@pytest.mark.skipif(HAS_TRT, reason="TensorRT is installed here: this test is about machines without it")
def test_backend_tensorrt_without_tensorrt_exits_2_naming_the_extra_and_index(bench_cli, results_dir):
    result = bench_cli("run", "--backend", "tensorrt", "--device", "cuda", *FAST_RUN, "--output", results_dir)
    assert result.exit_code == 2, result.output
    assert "bench[tensorrt]" in result.output and "https://pypi.nvidia.com" in result.output
    assert not list(results_dir.glob("*/result.json"))


@pytest.mark.skipif(HAS_TRT, reason="TensorRT is installed here: this test is about machines without it")
def test_backends_lists_tensorrt_unavailable_with_the_reason(bench_cli):
    result = bench_cli("backends")
    assert result.exit_code == 0
    line = next(line for line in result.output.splitlines() if line.startswith("tensorrt:"))
    assert "not installed" in line and "bench[tensorrt]" in line and "pypi.nvidia.com" in line


def test_engine_cache_key_changes_with_every_field(tmp_path):
    base = dict(model_hash="abc123", precision="fp16", max_batch=64, profiles=2, trt_version="10.3.0",
                gpu_name="NVIDIA H100 80GB HBM3", root=tmp_path)
    path = engine_path(**base)
    assert path.parent == tmp_path and path.suffix == ".engine" and " " not in path.name
    for field, other in [("model_hash", "def456"), ("precision", "int8"), ("max_batch", 128), ("profiles", 1),
                         ("trt_version", "10.4.0"), ("gpu_name", "NVIDIA H200")]:
        assert engine_path(**{**base, field: other}) != path, field
    assert engine_path(**base, calibration="c0ffee") != path


def test_calibration_batches_are_full_and_preprocessed_like_samples(tmp_path):
    from bench.preprocessing import preprocess

    images = IMAGES[:10]
    batches = CalibrationBatches(images, "torchvision", max_batch=4)
    assert batches.batch_size == 4 and batches.used == 8 and len(batches) == 2  # the partial third batch dropped
    arrays = list(batches)
    assert [a.shape for a in arrays] == [(4, 3, 224, 224)] * 2 and arrays[0].dtype == np.float32
    assert arrays[0].flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(arrays[1][0], preprocess(str(images[4]), "torchvision"))
    # The calibration set's identity follows its contents, so does the kept calibration table's name.
    assert images_id(images) != images_id(images[:9])
    cache = calibration_cache_path("abc123", images_id(images), "torchvision", root=tmp_path)
    assert cache.name.endswith(".calib") and images_id(images) in cache.name


def test_calibration_with_fewer_images_than_a_batch():
    batches = CalibrationBatches(IMAGES[:3], "mlperf", max_batch=64)
    assert batches.batch_size == 3 and len(list(batches)) == 1


# ---- with TensorRT and a GPU ------------------------------------------------------------------------------


def _trt_ready() -> str | None:
    if not HAS_TRT:
        return "TensorRT is not installed (pip install --extra-index-url https://pypi.nvidia.com tensorrt)"
    from bench.devices import nvml_gpu_count

    return None if nvml_gpu_count() else "no NVIDIA GPU visible through NVML"


TRT_SKIP = _trt_ready()


@pytest.mark.gpu
@pytest.mark.skipif(TRT_SKIP is not None, reason=TRT_SKIP or "")
def test_tensorrt_engine_builds_caches_and_agrees_with_onnxruntime():
    from backends import BackendOptions
    from backends.onnxruntime_backend import OnnxRuntimeBackend
    from backends.tensorrt_backend import TensorRTBackend
    from bench.models import resolve

    model = resolve("resnet18")
    options = BackendOptions(device="cuda:0", batch_size=4, extra={"gpu_streams": 2})
    first = TensorRTBackend()
    first.load(model, options)
    batch = np.random.default_rng(0).standard_normal((3, 3, 224, 224), dtype=np.float32)
    reference = OnnxRuntimeBackend()
    reference.load(model, BackendOptions(batch_size=4))
    np.testing.assert_allclose(first.logits(batch), reference.logits(batch), rtol=1e-2, atol=1e-2)
    described = first.describe()
    assert described["tensorrt_version"] and described["engine_file"].endswith(".engine")
    second = TensorRTBackend()
    second.load(model, options)
    assert second.describe()["engine_cache"] == "hit" and second.describe()["engine_file"] == described["engine_file"]
    first.close()
    second.close()


@pytest.mark.gpu
@pytest.mark.skipif(TRT_SKIP is not None, reason=TRT_SKIP or "")
def test_tensorrt_offline_run(bench_cli, results_dir):
    result = bench_cli("run", "--backend", "tensorrt", "--device", "cuda", "--precision", "fp16", *FAST_RUN,
                       "--output", results_dir)
    assert result.exit_code == 0, result.output
    record = only_run(results_dir)
    assert record["backend"]["precision"] == "fp16" and record["power"]["source"] == "nvml"
