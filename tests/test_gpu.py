"""GPU path: device strings, device honesty (no GPU here: exit 2, nothing runs), the multi-device wrapper on real
backends, and CUDA runs that skip with a reason where no CUDA GPU is present."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from bench.devices import CudaDevices, parse_cuda, validate
from bench.errors import UsageError
from tests.conftest import FAST_RUN, only_run


def _cuda_gpus() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except ImportError:
        return 0


GPUS = _cuda_gpus()
needs_gpu = pytest.mark.skipif(GPUS == 0, reason="no CUDA GPU on this machine (torch.cuda.is_available() is False)")
needs_two = pytest.mark.skipif(GPUS < 2, reason=f"needs two CUDA GPUs, this machine has {GPUS}")


@pytest.mark.parametrize("text, expected", [
    ("cuda", CudaDevices((0,))),
    ("cuda:1", CudaDevices((1,))),
    ("cuda:0,1", CudaDevices((0, 1))),
    ("cuda:all", CudaDevices(every=True)),
    ("cpu", None),
    ("GPU", None),  # OpenVINO's device names are the openvino backend's business
])
def test_device_strings(text, expected):
    validate(text)
    assert parse_cuda(text) == expected


@pytest.mark.parametrize("text", ["cuda:", "cuda:x", "cuda:-1", "cuda:0,0", "cuda:0,", "cudax", "CUDA:0", "cpu:1",
                                  "", "cuda: 0"])
def test_nonsense_device_strings_are_refused(text):
    with pytest.raises(UsageError):
        validate(text)


def test_resolve_checks_the_gpu_count():
    assert CudaDevices(every=True).resolve(4) == [0, 1, 2, 3]
    assert CudaDevices((0, 1)).resolve(2) == [0, 1]
    with pytest.raises(UsageError, match="CUDA shows 1 GPU"):
        CudaDevices((0, 1)).resolve(1)
    with pytest.raises(UsageError, match="no CUDA GPU"):
        CudaDevices(every=True).resolve(0)


@pytest.mark.skipif(GPUS > 0, reason="this machine has a CUDA GPU: the refusal is for machines without one")
@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:0,1", "cuda:all"])
def test_cuda_without_a_gpu_exits_2_and_runs_nothing(bench_cli, results_dir, backend, device):
    result = bench_cli("run", "--backend", backend, "--device", device, *FAST_RUN, "--output", results_dir)
    assert result.exit_code == 2, result.output
    assert "Nothing was run on the CPU instead" in result.output
    assert not list(results_dir.glob("*/result.json"))  # refused before a run directory exists


@pytest.mark.parametrize("device", ["cuda:x", "cuda:0,0", "cpu:1"])
def test_bad_device_string_exits_2(bench_cli, results_dir, device):
    result = bench_cli("run", "--device", device, *FAST_RUN, "--output", results_dir)
    assert result.exit_code == 2 and "--device" in result.output


def test_multi_device_wrapper_spreads_batches_over_real_instances():
    """The wrapper is device-agnostic: two real torch instances on the CPU stand in for two GPUs."""
    from backends import BackendOptions
    from backends.multi_device import MultiDeviceBackend
    from backends.torch_backend import TorchBackend
    from bench.models import resolve

    model = resolve("resnet18")
    options = BackendOptions(batch_size=2, threads=1)
    multi = MultiDeviceBackend(TorchBackend, ["cpu", "cpu"])
    multi.load(model, options)
    assert multi.concurrency == 2 and multi.parallel_devices == 2
    single = TorchBackend()
    single.load(model, options)
    batch = np.random.default_rng(0).standard_normal((2, 3, 224, 224), dtype=np.float32)
    expected = single.predict(batch)

    multi.reset_stats()
    results: list[np.ndarray] = []

    def worker():
        for _ in range(2):
            results.append(multi.predict(batch))

    threads = [threading.Thread(target=worker) for _ in range(multi.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(r, expected) for r in results)
    stats = multi.device_stats()
    assert [s["batches"] for s in stats] == [2, 2]  # each worker thread bound to its own instance
    assert [s["samples"] for s in stats] == [4, 4]
    described = multi.describe()
    assert described["multi_device"]["instances"] == 2 and len(described["devices"]) == 2


def test_multi_device_run_through_loadgen_records_per_device_figures(bench_cli, results_dir, monkeypatch):
    """The whole multi-device path (registry -> wrapper -> Offline workers -> per_device in the record) through
    real LoadGen, with two CPU instances standing in for two GPUs: only the device list is swapped."""
    import backends
    from backends.multi_device import MultiDeviceBackend

    real_create = backends.create

    def two_cpus(name, options):
        real_create(name, options)  # the registry's checks still run
        return MultiDeviceBackend(backends.backend_class(name), ["cpu", "cpu"])

    monkeypatch.setattr(backends, "create", two_cpus)
    result = bench_cli("run", "--backend", "torch", "--scenario", "offline", *FAST_RUN, "--output", results_dir)
    assert result.exit_code == 0, result.output
    record = only_run(results_dir)
    per_device = record["performance"]["per_device"]
    assert [d["device"] for d in per_device] == ["cpu", "cpu"]
    assert all(d["samples"] > 0 for d in per_device)  # both instances served the timed run
    assert sum(d["samples"] for d in per_device) == record["performance"]["samples"]  # warm-up not counted
    assert record["backend"]["multi_device"]["instances"] == 2


def test_onnxruntime_gpu_provider_options_name_the_real_input():
    """The TensorRT execution provider's options are built from the ONNX file itself (input name, batch range)."""
    from backends import BackendOptions
    from backends.onnxruntime_backend import OnnxRuntimeBackend
    from bench.models import onnx_file, resolve

    path = onnx_file(resolve("resnet18"))
    options = BackendOptions(device="cuda:1", precision="fp16", batch_size=32, extra={"ort_provider": "tensorrt"})
    OnnxRuntimeBackend.check_options(options)
    providers = OnnxRuntimeBackend._gpu_providers("TensorrtExecutionProvider", 1, options, path)
    assert [name for name, _ in providers] == ["TensorrtExecutionProvider", "CUDAExecutionProvider"]
    trt = providers[0][1]
    assert trt["device_id"] == 1 and trt["trt_fp16_enable"] is True
    assert trt["trt_profile_min_shapes"] == "input:1x3x224x224" and trt["trt_profile_max_shapes"] == "input:32x3x224x224"
    cuda_only = OnnxRuntimeBackend._gpu_providers("CUDAExecutionProvider", 0, BackendOptions(device="cuda"), path)
    assert cuda_only == [("CUDAExecutionProvider", {"device_id": 0, "cudnn_conv_algo_search": "EXHAUSTIVE"})]


def test_onnxruntime_fp16_only_through_its_tensorrt_provider(bench_cli, results_dir):
    result = bench_cli("run", "--backend", "onnxruntime", "--precision", "fp16", *FAST_RUN, "--output", results_dir)
    assert result.exit_code == 2 and "TensorRT execution provider" in result.output


# ---- on a CUDA machine ------------------------------------------------------------------------------------


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("scenario", ["offline", "server", "single-stream"])
def test_torch_fp16_on_cuda_records_what_ran_where(bench_cli, results_dir, scenario):
    result = bench_cli("run", "--backend", "torch", "--scenario", scenario, "--device", "cuda", "--precision", "fp16",
                       *FAST_RUN, "--output", results_dir)
    assert result.exit_code == 0, result.output
    record = only_run(results_dir)
    backend = record["backend"]
    assert backend["device"] == "cuda:0" and backend["precision"] == "fp16"
    assert backend["gpu"] and backend["cuda"] and backend.get("driver")
    assert backend["h2d_copy_in_timed_region"] is True and backend["pinned_host_buffers"] is True
    power = record["power"]
    assert power["available"], power["reason"]
    assert power["source"] == "nvml" and power["avg_watts"] > 0 and power["sample_rate_hz"] >= 10
    assert (results_dir / record["run_id"] / "power.csv").is_file()


@pytest.mark.gpu
@needs_gpu
def test_cuda_graphs_agree_with_eager():
    from backends import BackendOptions
    from backends.torch_backend import TorchBackend
    from bench.models import resolve

    model = resolve("resnet18")
    batch = np.random.default_rng(0).standard_normal((3, 3, 224, 224), dtype=np.float32)
    eager, graphed = TorchBackend(), TorchBackend()
    eager.load(model, BackendOptions(device="cuda", batch_size=4))
    graphed.load(model, BackendOptions(device="cuda", batch_size=4, extra={"cuda_graphs": True}))
    assert graphed.describe()["cuda_graphs"]["batch"] == 4
    # A partial batch (3 of 4) goes through the padded graph.
    np.testing.assert_allclose(graphed.logits(batch), eager.logits(batch), rtol=1e-3, atol=1e-3)


@pytest.mark.gpu
@needs_gpu
def test_onnxruntime_on_cuda_never_uses_the_cpu(bench_cli, results_dir):
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("onnxruntime-gpu is not installed (CPU onnxruntime has no CUDAExecutionProvider)")
    result = bench_cli("run", "--backend", "onnxruntime", "--device", "cuda", *FAST_RUN, "--output", results_dir)
    assert result.exit_code == 0, result.output
    backend = only_run(results_dir)["backend"]
    assert backend["providers"][0] == "CUDAExecutionProvider" and "disabled" in backend["cpu_ep_fallback"]


@pytest.mark.gpu
@needs_two
def test_two_gpus_give_per_gpu_figures(bench_cli, results_dir):
    result = bench_cli("run", "--backend", "torch", "--device", "cuda:all", "--precision", "fp16", *FAST_RUN,
                       "--output", results_dir)
    assert result.exit_code == 0, result.output
    record = only_run(results_dir)
    per_device = record["performance"]["per_device"]
    assert len(per_device) == GPUS and all(d["samples"] > 0 for d in per_device)
    assert len(record["power"]["channels"]) == GPUS
