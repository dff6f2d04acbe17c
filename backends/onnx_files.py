"""What GPU backends need from an ONNX file: its input's shape (for engine profiles) and an fp16 copy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.cache import atomic_write, cache_dir, file_sha256
from bench.errors import UsageError


@dataclass(frozen=True)
class OnnxInput:
    name: str
    batch: int | None  # None: a dynamic batch axis
    sample: tuple[int, ...]  # the shape of one sample, e.g. (3, 224, 224)

    def check_batch(self, path: Path, max_batch: int) -> None:
        if self.batch is not None and self.batch < max_batch:
            raise UsageError(f"{path} has a fixed batch of {self.batch}; use --batch-size {self.batch} or export "
                             "the model with a dynamic batch axis")

    def shape(self, batch: int) -> str:
        """The `NxCxHxW` text onnxruntime's TensorRT provider takes for its profile shapes."""
        return "x".join(map(str, (batch, *self.sample)))


def onnx_input(path: Path) -> OnnxInput:
    """The first graph input, read from the file (profile shapes follow the model, never a fixed 3x224x224)."""
    import onnx

    graph_input = onnx.load(str(path), load_external_data=False).graph.input[0]
    dims = graph_input.type.tensor_type.shape.dim
    if len(dims) < 2 or not all(d.HasField("dim_value") for d in dims[1:]):
        raise UsageError(f"{path}: input {graph_input.name!r} needs a fixed sample shape (all axes but the batch "
                         "axis); re-export it with fixed image dimensions")
    batch = dims[0].dim_value if dims[0].HasField("dim_value") else None
    return OnnxInput(graph_input.name, batch, tuple(int(d.dim_value) for d in dims[1:]))


def fp16_onnx(source: Path) -> Path:
    """An fp16 copy of an fp32 ONNX model (fp32 inputs and outputs kept, cast at the edges), cached by hash.

    A strongly typed TensorRT network takes its precision from these types.
    """
    path = cache_dir("onnx-fp16") / f"{file_sha256(source)[:16]}-fp16.onnx"
    if path.exists():
        return path
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(source)), keep_io_types=True)
    atomic_write(path, model.SerializeToString())
    return path


def pixels_onnx(source: Path, profile: str, size: int) -> Path:
    """A copy of the model taking uint8 NHWC pixels, normalised in the graph (backends/device_input.py), cached by
    the source's hash and the profile: onnxruntime-CUDA and TensorRT then normalise on the device."""
    path = cache_dir("onnx-pixels") / f"{file_sha256(source)[:16]}-{profile}-{size}.onnx"
    if path.exists():
        return path
    import onnx

    from bench.backends.device_input import prefixed

    atomic_write(path, prefixed(onnx.load(str(source)), profile, size).SerializeToString())
    return path
