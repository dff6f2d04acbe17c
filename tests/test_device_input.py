"""Normalisation on the device side (backends/device_input.py) against today's float32 samples, bit for bit, on the
CPU: the torch module and the ONNX prefix (onnxruntime's CPU provider) run the same float32 operations a GPU runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.backends import device_input
from bench.data.preprocessing import PROFILES, integer_pixels, pixels, preprocess
from tests.conftest import TEST_DATA

IMAGES = sorted((TEST_DATA / "imagenet").glob("*.JPEG"))[:4]


def _batch(profile: str):
    """(pixels NHWC as the store holds them, today's float32 NCHW samples) for a few real images."""
    return (np.stack([pixels(p, profile) for p in IMAGES]), np.stack([preprocess(p, profile) for p in IMAGES]))


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def test_which_profiles_resize_to_integers():
    """mlperf and torchvision hold uint8 exactly (Pillow resizes 8-bit to 8-bit); TF's bicubic gives floats."""
    assert {name: integer_pixels(name) for name in PROFILES} == {
        "torchvision": True, "mlperf": True, "torchvision-v2": True, "tf-efficientnet-lite": False}
    for name in PROFILES:
        held = pixels(IMAGES[0], name)
        assert held.dtype == (np.uint8 if integer_pixels(name) else np.float32) and held.shape == (224, 224, 3)


@pytest.mark.parametrize("profile", list(PROFILES))
def test_torch_normaliser_equals_the_float32_sample_bit_for_bit(profile):
    torch = pytest.importorskip("torch")
    held, expected = _batch(profile)
    module = device_input.normaliser(torch, profile, torch.float32, torch.channels_last, "cpu")
    with torch.inference_mode():
        out = module(torch.from_numpy(held))
    assert out.is_contiguous(memory_format=torch.channels_last)  # the layout the model's first conv reads
    assert _same_bits(np.ascontiguousarray(out.numpy()), expected)


def test_torch_normaliser_casts_last_for_fp16():
    """fp16 models: the cast follows the float32 arithmetic, so it is today's sample rounded once to fp16."""
    torch = pytest.importorskip("torch")
    held, expected = _batch("mlperf")
    module = device_input.normaliser(torch, "mlperf", torch.float16, torch.contiguous_format, "cpu")
    with torch.inference_mode():
        out = module(torch.from_numpy(held)).numpy()
    assert out.dtype == np.float16 and np.array_equal(out, expected.astype(np.float16))


@pytest.mark.parametrize("profile", ["mlperf", "torchvision"])
def test_onnx_prefix_equals_the_float32_sample_bit_for_bit(profile):
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    held, expected = _batch(profile)
    graph = device_input.prefix_graph(profile, 224, onnx.TensorProto.FLOAT)
    onnx.checker.check_model(graph)
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {device_input.INPUT_NAME: held})
    assert _same_bits(out, expected)


def test_prefixed_model_takes_pixels_and_feeds_the_models_own_input():
    """A model taking NCHW float32 (here a one-op graph, halving: exact, so any wrong element shows) is fed the
    normalised pixels."""
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    model = helper.make_model(helper.make_graph(
        [helper.make_node("Mul", ["input", "half"], ["scores"])], "halve",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor("half", TensorProto.FLOAT, [], [0.5])]),
        opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    held, expected = _batch("mlperf")
    merged = device_input.prefixed(model, "mlperf", 224)
    onnx.checker.check_model(merged)
    session = ort.InferenceSession(merged.SerializeToString(), providers=["CPUExecutionProvider"])
    assert [(i.name, i.type) for i in session.get_inputs()] == [(device_input.INPUT_NAME, "tensor(uint8)")]
    reference = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (want,) = reference.run(None, {"input": expected})
    (got,) = session.run(None, {device_input.INPUT_NAME: held})
    assert _same_bits(got, want)


# ---- the QSL's uint8 form of real images, and what the record says of the path that ran ----------------------

def test_imagenet_samples_of_integer_profiles_are_held_as_their_uint8_pixels():
    """The cached float32 samples give back their 8-bit pixels exactly (checked bit for bit); TF's floats do not."""
    from bench.data.imagenet import ImageNetDataset, read_val_map
    from bench.run.qsl import UINT8_NHWC, SampleStore

    root = TEST_DATA / "imagenet"
    entries = read_val_map(root / "val_map.txt")[:len(IMAGES)]
    dataset = ImageNetDataset.prepare(root, root / "val_map.txt", entries, "mlperf")
    store = SampleStore(dataset, form=UINT8_NHWC)
    store.load(range(len(dataset)))
    assert store.describe()["bytes_per_sample"] == 224 * 224 * 3 and store.describe()["dtype"] == "uint8"
    for row, (name, _) in enumerate(entries):
        assert np.array_equal(store.data[row], pixels(root / name, "mlperf"))
    tf = ImageNetDataset.prepare(root, root / "val_map.txt", entries[:1], "tf-efficientnet-lite")
    assert tf.forms == ("float32-nchw",)
    with pytest.raises(Exception, match="cannot give exactly"):
        SampleStore(tf, form=UINT8_NHWC)


def test_memory_budget_counts_the_form_the_store_holds():
    from bench.data.dataset import SyntheticDataset
    from bench.run.budget import sample_bytes

    data = SyntheticDataset(4, size=32)
    assert sample_bytes(data, "uint8-nhwc") == 32 * 32 * 3 and sample_bytes(data, "float32-nchw") == 32 * 32 * 3 * 4


def _data_path(bench_cli, results_dir, *extra):
    from tests.conftest import FAST_RUN

    result = bench_cli("run", "--backend", "torch", *FAST_RUN, "--count", "8", "--duration", "0.2", "--output",
                       results_dir, *extra)
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(p.read_text()) for p in results_dir.rglob("result.json")]
    return record["performance"]["data_path"], record["backend"]


@pytest.mark.parametrize("form", ["float32-nchw", "uint8-nhwc"])
def test_the_data_path_fields_are_read_from_the_path_that_ran(bench_cli, tmp_path, monkeypatch, form):
    """torch on the CPU, in both forms (uint8: normalised as the model's first op): bytes, copies per batch, pinned,
    H2D come from the store's array and the backend's counters, so they change with the path, never declared."""
    monkeypatch.setattr("bench.backends.torch_backend.CPU_SAMPLE_FORM", form)
    path, backend = _data_path(bench_cli, tmp_path / "r")
    assert backend["sample_form"] == path["form"] == form
    assert path["bytes_per_sample"] == 224 * 224 * 3 * (1 if form == "uint8-nhwc" else 4)
    assert path["dtype"] == form.split("-")[0] and path["layout"] == form.split("-")[1].upper()
    # A copy of the batch in the backend: the normalised tensor (uint8), or channels_last's reorder (float32).
    copied = form == "uint8-nhwc" or backend["memory_format"]["channels_last"]
    assert path["backend_copies_per_batch"] == (1.0 if copied else 0.0)
    assert path["host_copies_per_batch"] == path["gathers_per_batch"] + path["backend_copies_per_batch"]
    assert path["h2d_copies_per_batch"] == 0.0 and path["h2d_in_timed_region"] is False
    assert path["pinned"] is None and path["input_location"] == "host"  # no device copy: nothing to pin


@pytest.mark.parametrize("args, says", [
    (["--backend", "torch"], "--input-location needs --device cuda"),
    (["--backend", "onnxruntime", "--device", "cuda"], "--input-location applies to the torch backend only"),
])
def test_input_on_the_device_is_refused_where_it_cannot_be_honoured(bench_cli, tmp_path, args, says):
    result = bench_cli("run", *args, "--input-location", "device", "--output", tmp_path / "r")
    assert result.exit_code == 2 and says in result.output, result.output
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").rglob("result.json"))


def test_the_form_benchmark_smoke_runs_at_its_smallest():
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    done = subprocess.run([sys.executable, "benchmarks/torch_input_form.py", "--smallest"], cwd=ROOT, check=False,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert {(r["form"], r["memory_format"]) for r in figures["rows"]} == {
        (f, m) for f in ("float32-nchw", "uint8-nhwc") for m in ("contiguous", "channels_last")}
    assert all(r["samples_per_s"] > 0 for r in figures["rows"]) and figures["uint8_over_float32"] > 0


def test_reports_mark_a_run_fed_from_device_memory(tmp_path):
    """A captured record, marked as a --input-location device run would be: its label says so; the host one not."""
    from bench.report import table

    record = json.loads((TEST_DATA / "records" / "offline.json").read_text())
    assert "input on device" not in table.row(tmp_path, record)["label"]
    record["config"]["extra"]["input_location"] = "device"
    assert "input on device" in table.row(tmp_path, record)["label"]


def test_input_on_the_device_is_refused_across_several_gpus():
    """The multi-GPU wrapper has no resident set to gather from: refused before loading, never run as host input."""
    from bench.backends.base import BackendOptions
    from bench.backends.torch_backend import TorchBackend
    from bench.errors import BackendUnavailable

    with pytest.raises(BackendUnavailable, match="--input-location device on cuda:0,1"):
        TorchBackend.check_options(BackendOptions(device="cuda:0,1", extra={"input_location": "device"}))
    TorchBackend.check_options(BackendOptions(device="cuda:1", extra={"input_location": "device"}))  # one GPU: fine
