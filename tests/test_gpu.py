"""GPU path: device strings, device honesty (no GPU here: exit 2, nothing runs), the multi-device wrapper on real
backends, and CUDA runs that skip with a reason where no CUDA GPU is present."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from bench.errors import UsageError
from bench.system.devices import CudaDevices, parse_cuda, validate
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
    from bench.backends import BackendOptions
    from bench.backends.multi_device import MultiDeviceBackend
    from bench.backends.torch_backend import TorchBackend
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
    from bench import backends
    from bench.backends.multi_device import MultiDeviceBackend

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
    from bench.backends import BackendOptions
    from bench.backends.onnxruntime_backend import OnnxRuntimeBackend
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
    assert cuda_only == [("CUDAExecutionProvider", {"device_id": 0, "cudnn_conv_algo_search": "EXHAUSTIVE",
                                                    "use_tf32": 0})]  # fp32 is strict fp32
    tf32 = OnnxRuntimeBackend._gpu_providers("CUDAExecutionProvider", 0, BackendOptions(device="cuda",
                                                                                         precision="tf32"), path)
    assert tf32[0][1]["use_tf32"] == 1


def test_tensorrt_provider_profiles_follow_the_models_input_shape(tmp_path):
    """A 3x32x32 classifier gets 3x32x32 profiles, not a hard-coded 3x224x224."""
    import onnx
    from onnx import TensorProto, helper

    from bench.backends import BackendOptions
    from bench.backends.onnxruntime_backend import OnnxRuntimeBackend

    graph = helper.make_graph(
        [helper.make_node("Flatten", ["image"], ["flat"]), helper.make_node("Identity", ["flat"], ["scores"])], "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, 32, 32])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["n", 3072])])
    path = tmp_path / "tiny.onnx"
    onnx.save(helper.make_model(graph), str(path))
    options = BackendOptions(device="cuda", precision="fp16", batch_size=16, extra={"ort_provider": "tensorrt"})
    trt = OnnxRuntimeBackend._gpu_providers("TensorrtExecutionProvider", 0, options, path)[0][1]
    assert trt["trt_profile_min_shapes"] == "image:1x3x32x32" and trt["trt_profile_opt_shapes"] == "image:16x3x32x32"


@pytest.mark.parametrize("backend", ["torch", "torch-compile", "onnxruntime"])
def test_tf32_on_the_cpu_exits_2(bench_cli, results_dir, backend):
    result = bench_cli("run", "--backend", backend, "--precision", "tf32", *FAST_RUN, "--output", results_dir)
    assert result.exit_code == 2, result.output
    assert "tf32 needs --device cuda" in result.output and not list(results_dir.glob("*/result.json"))


def test_onnxruntime_tensorrt_provider_refuses_strict_fp32():
    from bench.backends import BackendOptions
    from bench.backends.onnxruntime_backend import OnnxRuntimeBackend
    from bench.errors import BackendUnavailable

    with pytest.raises(BackendUnavailable, match="no switch for TF32"):
        OnnxRuntimeBackend.check_options(BackendOptions(device="cuda", extra={"ort_provider": "tensorrt"}))
    OnnxRuntimeBackend.check_options(BackendOptions(device="cuda", precision="tf32", extra={"ort_provider": "tensorrt"}))


@pytest.mark.parametrize("text, recorded", [("cuda", "cuda:0"), ("cuda:1", "cuda:1"), ("cpu", "cpu"),
                                            ("cuda:0,1", "cuda:0,1"), ("cuda:all", "cuda:all")])
def test_device_names_record_the_gpu_that_ran(text, recorded):
    from bench.system.devices import canonical

    assert canonical(text) == recorded


class FakeNvml:
    """NVML's handle look-ups, recorded (no driver here), with nvidia-ml-py's real names: a name its `pynvml` module
    does not have raises AttributeError, as the real module does. (A fake that answered any name once asserted a call
    to nvmlDeviceGetHandleByPciBusId_v2, which nvidia-ml-py lacks: the bug that cost the H200 its power readings.)"""

    def __init__(self):
        import pynvml

        self._real = pynvml
        self.calls = []

    def __getattr__(self, name):
        real = getattr(self._real, name)  # AttributeError for a name nvidia-ml-py does not have
        if not callable(real):
            return real  # its constants, as they are
        return lambda arg: self.calls.append((name, arg)) or f"handle({arg})"


def test_fake_nvml_has_only_nvidia_ml_pys_names():
    nvml = FakeNvml()
    with pytest.raises(AttributeError):
        nvml.nvmlDeviceGetHandleByPciBusId_v2  # noqa: B018 - the attribute access is the test
    assert nvml.nvmlDeviceGetHandleByPciBusId("x") == "handle(x)"


def test_nvml_handle_maps_by_pci_bus_id_else_through_cuda_visible_devices(monkeypatch):
    from bench.system import devices

    nvml = FakeNvml()
    monkeypatch.setattr(devices, "cuda_pci_bus_id", lambda ordinal: "00000000:C1:00.0" if ordinal == 0 else None)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,GPU-abc")
    assert devices.nvml_handle(nvml, 0) == ("handle(00000000:C1:00.0)", "pci_bus_id")
    assert nvml.calls == [("nvmlDeviceGetHandleByPciBusId", "00000000:C1:00.0")]
    assert devices.nvml_handle(nvml, 1)[1].startswith("uuid") and nvml.calls[-1] == ("nvmlDeviceGetHandleByUUID",
                                                                                    "GPU-abc")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    monkeypatch.setattr(devices, "cuda_pci_bus_id", lambda ordinal: None)
    devices.nvml_handle(nvml, 0)
    assert nvml.calls[-1] == ("nvmlDeviceGetHandleByIndex", 3)


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
    assert backend["device"] == "cuda:0" and backend["precision"] == "fp16"  # `--device cuda` ran on cuda:0
    assert backend["tf32"] is False
    assert backend["gpu"] and backend["cuda"] and backend.get("driver")
    # Counted where the batches were copied (backends/torch_cuda.py), per timed batch in the data path: not a constant.
    assert backend["h2d_copies"] > 0 and backend["pinned_staging"] is True and backend["sample_form"] == "uint8-nhwc"
    path = record["performance"]["data_path"]
    assert path["h2d_copies_per_batch"] == 1.0 and path["h2d_in_timed_region"] is True and path["pinned"] is True
    assert path["dtype"] == "uint8" and path["bytes_per_sample"] == 224 * 224 * 3 and path["asynchronous"] is True
    assert path["host_copies_per_batch"] <= 1.0  # a gather into pinned staging, or a row copied there: never both
    power = record["power"]
    assert power["available"], power["reason"]
    assert power["source"] == "nvml" and power["avg_watts"] > 0 and power["sample_rate_hz"] >= 10
    assert (results_dir / record["run_id"] / "power.csv").is_file()


@pytest.mark.gpu
@needs_gpu
def test_cuda_graphs_agree_with_eager():
    from bench.backends import BackendOptions
    from bench.backends.torch_backend import TorchBackend
    from bench.models import resolve

    model = resolve("resnet18")
    batch = np.random.default_rng(0).integers(0, 256, (4, 224, 224, 3), dtype=np.uint8)  # the form it takes
    eager, graphed = TorchBackend(), TorchBackend()
    eager.load(model, BackendOptions(device="cuda", batch_size=4))
    graphed.load(model, BackendOptions(device="cuda", batch_size=4, extra={"cuda_graphs": True}))
    assert graphed.describe()["tf32"] is False  # strict fp32: eager and graphed compute the same kernels
    want = eager.predict(batch)
    assert np.array_equal(graphed.predict(batch), want)  # captures the graph at 4, then replays it
    assert graphed.describe()["cuda_graphs"] == [4]
    # A partial batch (3 of 4) replays the graph of 4, its last row stale: the 3 answered agree with eager.
    got = []
    graphed.cuda.submit(3, lambda out: np.copyto(out, batch[:3]) or out, lambda c, e: got.append((c, e)))
    graphed.synchronize()
    for _ in range(100):
        if got:
            break
        time.sleep(0.05)
    assert got and got[0][1] is None and np.array_equal(got[0][0], want[:3])


@pytest.mark.gpu
@needs_gpu
def test_input_on_the_device_sends_no_sample_in_the_timed_region(bench_cli, results_dir):
    result = bench_cli("run", "--backend", "torch", "--device", "cuda", "--precision", "fp16", "--input-location",
                       "device", *FAST_RUN, "--output", results_dir)
    assert result.exit_code == 0, result.output
    path = only_run(results_dir)["performance"]["data_path"]
    assert path["input_location"] == "device" and path["h2d_copies_per_batch"] == 0.0
    assert path["h2d_in_timed_region"] is False and path["gathers_per_batch"] == 0.0


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


def test_device_thread_runs_every_call_on_its_own_thread():
    """torch-compile's CUDA calls go through one thread per device, whichever thread calls (pytorch#123177)."""
    from bench.backends.torch_compile_backend import DeviceThread

    worker = DeviceThread("test-device")
    seen: list[str] = []
    callers = [threading.Thread(target=lambda: seen.append(worker.call(lambda: threading.current_thread().name)))
               for _ in range(4)]
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    assert seen == ["test-device"] * 4
    with pytest.raises(ZeroDivisionError):  # an error on the device thread reaches the caller
        worker.call(lambda: 1 / 0)
    assert worker.call(lambda x: x + 1, 41) == 42  # and the thread lives on
    worker.close()
    assert not worker.thread.is_alive()


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("mode", ["reduce-overhead", "max-autotune"])
def test_torch_compile_cudagraph_modes_from_worker_threads(mode):
    from bench.backends import BackendOptions
    from bench.backends.torch_backend import TorchBackend
    from bench.backends.torch_compile_backend import TorchCompileBackend
    from bench.models import resolve

    model = resolve("resnet18")
    compiled, eager = TorchCompileBackend(), TorchBackend()
    compiled.load(model, BackendOptions(device="cuda", batch_size=4, extra={"compile_mode": mode}))
    eager.load(model, BackendOptions(device="cuda", batch_size=4))
    batches = [np.random.default_rng(k).standard_normal((n, 3, 224, 224), dtype=np.float32)
               for k, n in enumerate((4, 3, 1, 4))]
    results: dict[int, np.ndarray] = {}
    workers = [threading.Thread(target=lambda k=k: results.__setitem__(k, compiled.logits(batches[k])))
               for k in range(len(batches))]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    for k, batch in enumerate(batches):
        np.testing.assert_allclose(results[k], eager.logits(batch), rtol=1e-2, atol=1e-2)
    assert compiled.describe()["device"] == "cuda:0" and "dedicated thread" in compiled.describe()["calling_thread"]
    compiled.close()


# ---- benchmarks/gpu_check.py's verdicts: a part is ok only when its own result holds ---------------------------


def test_gpu_check_parts_are_ok_only_by_their_own_verdict():
    from benchmarks.gpu_verdicts import verdict

    # docs/gpu-results.md once showed `pytest_gpu | ok` beside this summary.
    assert verdict("pytest_gpu", {"exit": 1, "summary": "== 3 failed, 2 passed, 4 skipped in 39.59s =="})
    assert verdict("pytest_gpu", {"exit": 0, "summary": "== 1 failed, 2 passed =="})  # a summary that says so
    assert verdict("pytest_gpu", {"exit": 0, "summary": "== 5 passed, 4 skipped in 20s =="}) is None
    ran = {"backend": "torch", "scenario": "offline", "valid": "INVALID", "samples/s": "4,325.4"}  # INVALID ran
    assert verdict("scenarios", {"rows": [ran]}) is None
    skipped = {"backend": "torch-compile", "scenario": "server", "valid": "skipped: out of time"}
    assert "1 of 2 rows did not run" in verdict("scenarios", {"rows": [ran, skipped]})
    assert verdict("scenarios", {"rows": [{**ran, "valid": "ERROR", "samples/s": "-"}]})
    assert verdict("scenarios", {"rows": []}) == "no scenario row ran"
    # ...and `power_monitor | ok` beside "NVML has no GPU for cuda:0".
    assert verdict("power_monitor", {"monitor_sliced_avg_w": None, "reason": "NVML has no GPU for cuda:0"})
    assert verdict("compile_threads", {"reduce-overhead": {"ok": True}, "max-autotune": {"ok": False}})


def test_energy_counter_is_reported_in_joules_never_as_max_w():
    from benchmarks.gpu_verdicts import cadence

    # (time s, W, W, J): the counter's raw value is joules since the driver loaded (6,478 "W" in docs/gpu-results.md)
    rows = [(0.0, 300.0, 310.0, 6000.0), (0.1, 320.0, 330.0, 6031.0), (0.2, 310.0, 300.0, 6062.0)]
    energy = cadence(rows, 3, "J")
    assert "max_w" not in energy and energy["joules"] == 62.0 and energy["mean_w"] == 310.0
    assert cadence(rows, 1, "W")["max_w"] == 320.0


def test_gpu_check_exit_codes():
    from benchmarks.gpu_verdicts import exit_code

    ok, skipped, failed = {"status": "ok"}, {"status": "skipped"}, {"status": "failed"}
    assert exit_code({"parts": {"env": ok, "scenarios": ok}}, None)[0] == 0
    assert exit_code({"parts": {"env": ok, "pytest_gpu": failed}}, None)[0] == 1
    assert exit_code({"parts": {"env": ok, "pytest_gpu": skipped}}, "no CUDA GPU here") == (
        2, "nothing was checked on a GPU: no CUDA GPU here")


@pytest.mark.skipif(GPUS > 0, reason="this machine has a CUDA GPU: the no-GPU exit is for machines without one")
def test_gpu_check_without_a_gpu_exits_2_with_the_reason(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    done = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--json", tmp_path / "c.json", "--markdown",
                           tmp_path / "c.md", "--work", tmp_path / "w"], cwd=ROOT, check=False, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "nothing was checked on a GPU: no CUDA GPU here" in done.stderr
    assert "Verdict: nothing was checked on a GPU" in (tmp_path / "c.md").read_text()


# ---- benchmarks/gpu_suite.py: the H200 targets' script ------------------------------------------------------

@pytest.mark.skipif(GPUS > 0, reason="this machine has a CUDA GPU: the no-GPU exit is for machines without one")
def test_gpu_suite_without_a_gpu_exits_2_with_the_reason_and_runs_nothing(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    done = subprocess.run([sys.executable, "benchmarks/gpu_suite.py", "--output", tmp_path / "runs", "--json-out",
                           tmp_path / "rows.json"], cwd=ROOT, check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "no CUDA GPU here" in done.stderr and "nothing measured" in done.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "rows.json").exists()


def test_gpu_suite_rows_fit_the_budget_and_keep_their_targets():
    from benchmarks import gpu_suite

    assert len(gpu_suite.ROWS) * 75 <= gpu_suite.BUDGET_S <= 480  # the default --timeout per row, 8 minutes in all
    assert gpu_suite.flags_for(["--cuda-graphs", "--input-location", "device", "--max-wait-ms", "1"], "cpu") == \
        ["--max-wait-ms", "1"]
    assert gpu_suite.flags_for(["--cuda-graphs"], "cuda:0") == ["--cuda-graphs"]
    assert gpu_suite.server_qps([{"row": "offline-host", "rate": 9.0}]) is None  # only the graphed host row counts
    assert gpu_suite.server_qps([{"row": "offline-graphs-host", "rate": 30_000.0}]) == pytest.approx(24_000)
    assert gpu_suite.verdict({"rate": 15_000.0}, ("samples/s", ">=", 15_000)) == "met"
    assert gpu_suite.verdict({"p90": 1.6}, ("p90 ms", "<=", 1.5)) == "missed"
    assert gpu_suite.verdict({"valid": "ERROR"}, ("valid", "==", "VALID")) == "not measured"


def test_gpu_suite_plumbing_on_the_cpu_sets_server_from_offline(tmp_path):
    """--device cpu: the same rows without the GPU-only flags; Server's rate is 0.8 of the Offline row that ran.
    Server's 460 quick queries at a CPU's few samples/s outlast a test: its row may end at its --timeout (exit 1),
    its options still say the rate it was given."""
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT

    done = subprocess.run([sys.executable, "benchmarks/gpu_suite.py", "--device", "cpu", "--rows",
                           "offline-graphs-host,server-graphs", "--duration", "0.3", "--count", "16", "--max-batch",
                           "4", "--timeout", "240", "--output", tmp_path / "runs", "--json-out", tmp_path / "rows.json"],
                          cwd=ROOT, check=False, capture_output=True, text=True, timeout=900)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    offline, server = json.loads((tmp_path / "rows.json").read_text())["rows"]
    assert offline["valid"] != "ERROR" and offline["rate"] > 0 and "--cuda-graphs" not in offline["options"]
    assert done.returncode == (1 if server["valid"] == "ERROR" else 0)  # a row that did not run fails the suite
    assert f"--target-qps {0.8 * offline['rate']:.0f}" in server["options"]
    assert offline["verdict"] in ("met", "missed") and "float32-nchw host" in offline["data path"]
