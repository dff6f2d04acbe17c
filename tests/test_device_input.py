"""Normalisation on the device side (backends/device_input.py) against today's float32 samples, bit for bit, on the
CPU: the torch module and the ONNX prefix (onnxruntime's CPU provider) run the same float32 operations a GPU runs."""

from __future__ import annotations

import numpy as np
import pytest

from backends import device_input
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
