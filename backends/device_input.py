"""Normalisation on the device: the model takes the pixels (uint8 NHWC, a quarter of float32's bytes) and runs the
profile's scale, mean, std, layout change and dtype cast as its first operations, written once for each runtime:

- torch and torch-compile: `normaliser()`, a torch module run before the model (torch-compile compiles it with the
  model, so inductor fuses it into one kernel);
- onnxruntime-CUDA and TensorRT: `prefixed()`, the same operations as an ONNX graph put in front of the model's input.

The operations are bench.data.preprocessing.normalise()'s, one for one, in float32 (x * scale - mean) / std, so the
device's result equals the float32 sample bit for bit where each is an IEEE float32 operation (tests/test_device_input.py
shows it on the CPU for every profile, torch and onnxruntime). On a GPU a compiler may contract x * scale - mean into
one fused multiply-add (one rounding, not two): for the mlperf profile scale is 1.0 and std 1.0, so the result is
exact whatever is fused; for the torchvision profiles it may differ in the last bit. Not run on a GPU here.
"""

from __future__ import annotations

from typing import Any

# What bench/run/qsl.py holds for a backend that normalises on its side.
PIXELS_FORM = "uint8-nhwc"
INPUT_NAME = "pixels"  # the prefixed ONNX model's input


def constants(profile: str):
    """(scale, mean, std) of a profile as float32 numpy arrays, as preprocessing.normalise() uses them."""
    import numpy as np

    from bench.data.preprocessing import get_profile

    prof = get_profile(profile)
    return (np.float32(prof.scale), np.asarray(prof.mean, dtype=np.float32), np.asarray(prof.std, dtype=np.float32))


def normaliser(torch, profile: str, dtype, memory_format, device):
    """A torch module: pixels NHWC (uint8, or float32 where the profile's resize yields floats) -> the model's NCHW
    input in `dtype` and `memory_format`. From NHWC, permute() is already channels_last in memory: no copy there."""
    scale, mean, std = constants(profile)

    class Normalise(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("scale", torch.tensor(scale))
            self.register_buffer("mean", torch.from_numpy(mean.copy()))
            self.register_buffer("std", torch.from_numpy(std.copy()))

        def forward(self, x):
            x = (x.to(torch.float32) * self.scale - self.mean) / self.std  # float32 first, as the host's profile
            return x.permute(0, 3, 1, 2).to(dtype).contiguous(memory_format=memory_format)

    return Normalise().to(device)


def prefix_graph(profile: str, size: int, out_type: int, dims: tuple = ("N",)) -> Any:
    """An ONNX model: `pixels` uint8 [N, size, size, 3] -> `normalised` [N, 3, size, size] of `out_type` (an
    onnx.TensorProto element type: FLOAT, or FLOAT16 for an fp16 model)."""
    from onnx import TensorProto, helper, numpy_helper

    scale, mean, std = constants(profile)
    inits = [numpy_helper.from_array(a, name) for a, name in ((scale, "scale"), (mean, "mean"), (std, "std"))]
    nodes = [
        helper.make_node("Cast", ["pixels"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["f", "scale"], ["scaled"]),
        helper.make_node("Sub", ["scaled", "mean"], ["centred"]),
        helper.make_node("Div", ["centred", "std"], ["hwc"]),
        helper.make_node("Transpose", ["hwc"], ["chw"], perm=[0, 3, 1, 2]),
        helper.make_node("Cast", ["chw"], ["normalised"], to=out_type),
    ]
    graph = helper.make_graph(
        nodes, "bench_normalise",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, [dims[0], size, size, 3])],
        [helper.make_tensor_value_info("normalised", out_type, [dims[0], 3, size, size])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


def prefixed(model, profile: str, size: int) -> Any:
    """The ONNX model (a ModelProto taking NCHW) with the normalisation in front: it takes `pixels` uint8 NHWC.
    Its first input is the one fed (bench's exported models and MLPerf's resnet50_v1.onnx have one)."""
    from onnx import compose, helper

    first = model.graph.input[0]
    elem = first.type.tensor_type.elem_type
    dim0 = first.type.tensor_type.shape.dim[0]
    batch = dim0.dim_param or (dim0.dim_value if dim0.dim_value else "N")
    prefix = prefix_graph(profile, size, elem, (batch,))
    # One opset for both halves, the model's own: Cast, Mul, Sub, Div (broadcasting) and Transpose are the same
    # from opset 7 on (MLPerf's resnet50_v1.onnx is opset 8).
    version = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    prefix = helper.make_model(prefix.graph, opset_imports=[helper.make_opsetid("", version)],
                               ir_version=model.ir_version)
    return compose.merge_models(prefix, model, io_map=[("normalised", first.name)], prefix2="model/")
