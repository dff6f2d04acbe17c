"""TensorRT backend: refused clearly without TensorRT; its cache key, probe, precision files and API usage tested
without TensorRT (the API against tensorrt-stubs with mypy); engine build, cache hit and agreement with
onnxruntime where TensorRT and a GPU are present."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.backends.tensorrt_engine import Profile, engine_path
from tests.conftest import FAST_RUN, TEST_DATA, only_run

ROOT = Path(__file__).resolve().parent.parent
TRT_MODULES = [ROOT / "backends" / "tensorrt_backend.py", ROOT / "backends" / "tensorrt_engine.py"]
from bench.backends.tensorrt_backend import has_module  # noqa: E402

HAS_TRT = has_module("tensorrt")  # tensorrt-stubs' `tensorrt` directory of .pyi files is not TensorRT
IMAGES = sorted((TEST_DATA / "imagenet").glob("*.JPEG"))


@pytest.mark.skipif(HAS_TRT, reason="TensorRT is installed here: this test is about machines without it")
def test_backend_tensorrt_without_tensorrt_exits_2_naming_the_extra(bench_cli, results_dir):
    result = bench_cli("run", "--backend", "tensorrt", "--device", "cuda", *FAST_RUN, "--output", results_dir)
    assert result.exit_code == 2, result.output
    assert "bench[tensorrt]" in result.output and "pypi.nvidia.com" not in result.output  # all on PyPI now
    assert not list(results_dir.glob("*/result.json"))


def test_engine_cache_key_changes_with_every_field(tmp_path):
    base = dict(model_hash="abc123", precision="fp16", tf32=False, profile=Profile.for_batches((3, 224, 224), 64, 64),
                profiles=2, trt_version="10.13.3", gpu_name="NVIDIA H100 80GB HBM3", root=tmp_path)
    path = engine_path(**base)
    assert path.parent == tmp_path and path.suffix == ".engine" and " " not in path.name
    for field, other in [("model_hash", "def456"), ("precision", "int8"), ("tf32", True), ("profiles", 1),
                         ("trt_version", "11.4.0"), ("gpu_name", "NVIDIA H200"),
                         ("profile", Profile.for_batches((3, 224, 224), 1, 64)),  # opt: SingleStream's engine
                         ("profile", Profile.for_batches((3, 224, 224), 64, 128)),  # max
                         ("profile", Profile.for_batches((3, 240, 240), 64, 64))]:  # the model's sample shape
        assert engine_path(**{**base, field: other}) != path, field


def test_probe_wants_cuda_bindings_not_any_cuda_package(tmp_path, monkeypatch):
    (tmp_path / "cuda").mkdir()  # a bare `cuda` namespace package, as other CUDA tools install one
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [n for n in sys.modules if n == "cuda" or n.startswith("cuda.")]:
        monkeypatch.delitem(sys.modules, name)
    assert importlib.util.find_spec("cuda") is not None  # the namespace is found ...
    assert not has_module("cuda") and not has_module("cuda.bindings")  # ... but is no cuda-python
    assert not has_module("no_such_parent.bindings")  # a missing parent is "not installed", never an exception


def test_no_tensorrt_11_removed_api_in_the_backend():
    """TensorRT 11 removed these (NVIDIA's 10 -> 11 migration table); the 10.13 stubs still list them."""
    removed = ["BuilderFlag.FP16", "BuilderFlag.INT8", "int8_calibrator", "set_calibration_profile",
               "IInt8EntropyCalibrator", "IInt8Calibrator", "EXPLICIT_BATCH"]
    for module in TRT_MODULES:
        code = "\n".join(line for line in module.read_text().splitlines() if not line.lstrip().startswith("#"))
        code = re.sub(r'"""[\s\S]*?"""', "", code)  # docstrings may name them
        assert not [name for name in removed if name in code], module.name


def _stubs_dir(tmp_path: Path) -> Path:
    """tensorrt-stubs 10.13 installs `tensorrt/__init__.pyi` without py.typed (mypy ignores it there) and with two
    syntax slips (a parameter named `in`, a required parameter after defaults): copied and mended here."""
    spec = importlib.util.find_spec("tensorrt_stubs")
    site = Path(spec.origin).parent.parent
    out = tmp_path / "stubs"
    for package in ("tensorrt", "tensorrt_bindings"):
        shutil.copytree(site / package, out / package, ignore=lambda d, names: [n for n in names
                                                                                if not n.endswith(".pyi")])
    stub = out / "tensorrt_bindings" / "tensorrt.pyi"
    text = re.sub(r"([(,] )in: ", r"\1in_: ", stub.read_text())
    stub.write_text(text.replace("channel_axis: int)", "channel_axis: int = ...)"))
    (tmp_path / "mypy.ini").write_text("[mypy]\nignore_missing_imports = True\nfollow_imports = silent\n"
                                       "[mypy-tensorrt_bindings.*]\nignore_errors = True\n"
                                       "[mypy-tensorrt]\nignore_errors = True\n")
    return out


def _mypy(tmp_path: Path, stubs: Path, *files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(tmp_path / "mypy.ini"),
                           "--cache-dir", str(tmp_path / "cache"), *map(str, files)],
                          capture_output=True, text=True, env={"MYPYPATH": str(stubs), "PATH": ""}, cwd=ROOT)


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed: pip install '.[test]'")
@pytest.mark.skipif(importlib.util.find_spec("tensorrt_stubs") is None,
                    reason="tensorrt-stubs is not installed: pip install --no-deps tensorrt-stubs==10.13.0.35.1 "
                           "(--no-deps: its metadata asks for TensorRT itself)")
def test_tensorrt_code_passes_mypy_against_tensorrt_stubs(tmp_path):
    stubs = _stubs_dir(tmp_path)
    probe = tmp_path / "probe.py"  # the check is live: a misspelt API is caught, so the stubs were read
    probe.write_text("import tensorrt as trt\n\ndef f(c: trt.IBuilderConfig) -> None:\n"
                     "    c.set_flag(trt.BuilderFlag.NO_SUCH_FLAG)\n")
    caught = _mypy(tmp_path, stubs, probe)
    assert caught.returncode == 1 and "NO_SUCH_FLAG" in caught.stdout, caught.stdout + caught.stderr
    result = _mypy(tmp_path, stubs, *TRT_MODULES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_fp16_onnx_is_fp16_inside_with_fp32_edges():
    pytest.importorskip("onnxruntime", reason="onnxruntime converts the model: pip install '.[onnxruntime]'")
    import onnx

    from bench.backends.onnx_files import fp16_onnx, onnx_input
    from bench.models import onnx_file, resolve

    source = onnx_file(resolve("resnet18"))
    model = onnx.load(str(fp16_onnx(source)))
    kinds = {init.data_type for init in model.graph.initializer if init.data_type in (1, 10)}
    assert kinds == {onnx.TensorProto.FLOAT16}  # every float weight fp16: the strongly typed network runs fp16
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    shape = onnx_input(fp16_onnx(source))
    assert shape.batch is None and shape.sample == (3, 224, 224) and shape.shape(8) == "8x3x224x224"


@pytest.mark.slow
@pytest.mark.skipif(len(IMAGES) < 8, reason=f"the test images are missing under {TEST_DATA / 'imagenet'}")
def test_int8_qdq_model_is_what_tensorrt_consumes(tmp_path):
    pytest.importorskip("onnxruntime", reason="onnxruntime quantizes the model: pip install '.[onnxruntime]'")
    import onnx
    from onnx import numpy_helper

    from bench.backends import BackendOptions
    from bench.backends.int8 import TENSORRT_METHOD, onnxruntime_int8
    from bench.models import resolve

    calibration = tmp_path / "cal"
    calibration.mkdir()
    for image in IMAGES[:8]:
        shutil.copy(image, calibration)
    path, info = onnxruntime_int8(resolve("resnet18"), BackendOptions(extra={"calibration": str(calibration)}),
                                  TENSORRT_METHOD)
    assert info["method"] == TENSORRT_METHOD
    model = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    quantizers = [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert quantizers
    for node in quantizers:  # signed int8, symmetric: TensorRT's explicit quantization takes nothing else
        zero = inits[node.input[2]]
        assert zero.dtype == np.int8 and not zero.any(), node.name
    for node in (n for n in model.graph.node if n.op_type == "DequantizeLinear"):
        assert inits.get(node.input[0], np.zeros(1, np.int8)).dtype != np.int32, "an int32 bias DQ"


# ---- with TensorRT and a GPU ------------------------------------------------------------------------------


def _trt_ready() -> str | None:
    if not HAS_TRT:
        return "TensorRT is not installed (pip install 'bench[tensorrt]')"
    from bench.system.devices import nvml_gpu_count

    return None if nvml_gpu_count() else "no NVIDIA GPU visible through NVML"


TRT_SKIP = _trt_ready()


@pytest.mark.gpu
@pytest.mark.skipif(TRT_SKIP is not None, reason=TRT_SKIP or "")
def test_tensorrt_engine_builds_caches_and_agrees_with_onnxruntime():
    from bench.backends import BackendOptions
    from bench.backends.onnxruntime_backend import OnnxRuntimeBackend
    from bench.backends.tensorrt_backend import TensorRTBackend
    from bench.models import resolve

    model = resolve("resnet18")
    options = BackendOptions(device="cuda", batch_size=4, extra={"gpu_streams": 2})
    first = TensorRTBackend()
    first.load(model, options)
    batch = np.random.default_rng(0).standard_normal((3, 3, 224, 224), dtype=np.float32)
    reference = OnnxRuntimeBackend()
    reference.load(model, BackendOptions(batch_size=4))
    np.testing.assert_allclose(first.logits(batch), reference.logits(batch), rtol=1e-3, atol=1e-3)  # TF32 off
    described = first.describe()
    assert described["device"] == "cuda:0" and described["tf32"] is False
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
