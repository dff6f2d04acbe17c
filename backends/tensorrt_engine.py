"""TensorRT engines: built strongly typed from an ONNX file, cached on disk, run through execution contexts.

Strongly typed (TensorRT 10 with the STRONGLY_TYPED flag; TensorRT 11, where it is the only mode): the ONNX
graph's tensor types decide the precision. fp16 comes from an fp16 ONNX file, int8 from explicit Q/DQ nodes;
no BuilderFlag.FP16/INT8 and no calibrator (TensorRT 11 removed both). The one precision flag left is TF32,
which TensorRT turns on by default: it is cleared unless --precision tf32 asked for it.

`tensorrt` is imported inside the functions (the module imports without it); mypy checks these imports
against tensorrt-stubs in CI (tests/test_tensorrt.py).
"""

from __future__ import annotations

import ctypes
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.cache import cache_dir
from bench.errors import BackendUnavailable

if TYPE_CHECKING:
    import numpy as np
    import tensorrt as trt

WORKSPACE_BYTES = 4 << 30


@dataclass(frozen=True)
class Profile:
    """One optimization profile's input shapes (batch 1..max, tuned for opt)."""

    min: tuple[int, ...]
    opt: tuple[int, ...]
    max: tuple[int, ...]

    @classmethod
    def for_batches(cls, sample: tuple[int, ...], opt_batch: int, max_batch: int) -> "Profile":
        return cls((1, *sample), (opt_batch, *sample), (max_batch, *sample))

    def key(self) -> str:
        return "-".join("x".join(map(str, s)) for s in (self.min, self.opt, self.max))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")


def engine_path(model_hash: str, precision: str, tf32: bool, profile: Profile, profiles: int, trt_version: str,
                gpu_name: str, root: Path | None = None) -> Path:
    """Where the engine for this combination is cached; any change of key builds a new engine.

    `model_hash` is the hash of the ONNX file built (fp16 or Q/DQ file for those precisions), so the
    calibration set of an int8 model is part of it. The opt shape is in the key: a batch-1 SingleStream
    engine is tuned for batch 1 and must not be reused for Offline.
    """
    parts = [model_hash, precision, "tf32" if tf32 else "notf32", profile.key(), f"p{profiles}",
             f"trt{trt_version}", _slug(gpu_name)]
    return (root or cache_dir("tensorrt")) / ("-".join(parts) + ".engine")


def build_engine(onnx: Path, profile: Profile, contexts: int, tf32: bool, logger: trt.ILogger) -> bytes:
    """Parse the ONNX model into a strongly typed network and build a serialized engine (untimed; minutes)."""
    import tensorrt as trt

    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendUnavailable(f"TensorRT cannot parse {onnx}: {errors}")
    name = network.get_input(0).name
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if tf32:
        config.set_flag(trt.BuilderFlag.TF32)
    else:  # on by default: fp32 would quietly be TF32 in convolutions and matrix products
        config.clear_flag(trt.BuilderFlag.TF32)
    for _ in range(contexts):  # a dynamic-shape profile serves one execution context at a time
        shapes = builder.create_optimization_profile()
        shapes.set_shape(name, trt.Dims(list(profile.min)), trt.Dims(list(profile.opt)), trt.Dims(list(profile.max)))
        config.add_optimization_profile(shapes)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendUnavailable(f"TensorRT could not build an engine from {onnx} (shapes {profile.key()}): "
                                 "see its log above")
    return bytes(memoryview(serialized))


def load_engine(path: Path, logger: trt.ILogger) -> tuple[trt.Runtime, trt.ICudaEngine]:
    import tensorrt as trt

    runtime = trt.Runtime(logger)
    engine = runtime.deserialize_cuda_engine(path.read_bytes())
    if engine is None:
        raise BackendUnavailable(f"TensorRT cannot deserialize {path} (corrupt, or built by another TensorRT): "
                                 "delete it and run again to rebuild")
    return runtime, engine


def io_names(engine: trt.ICudaEngine) -> tuple[str, str]:
    """The one input and the [batch, classes] float output (MLPerf's resnet50_v1.onnx also has an int64 ArgMax)."""
    import tensorrt as trt

    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
    if len(inputs) != 1:
        raise BackendUnavailable(f"a classifier with one input is expected, the engine has {inputs}")
    for name in names:
        if name not in inputs and engine.get_tensor_dtype(name) in (trt.DataType.FLOAT, trt.DataType.HALF) \
                and len(engine.get_tensor_shape(name)) == 2:
            return inputs[0], name
    raise BackendUnavailable(f"no [batch, classes] float output among {names}")


# ---- CUDA runtime through cuda-python's cuda.bindings ------------------------------------------------------


def cudart() -> Any:
    from cuda.bindings import runtime  # cuda-python >= 12.8 (the `tensorrt` extra pins cuda-bindings 13)

    return runtime


def ok(rt: Any, result: Any) -> Any:
    """cuda.bindings returns (error, *values): raise on error, return the value(s)."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        name = rt.cudaGetErrorString(err)[1]
        raise RuntimeError(f"CUDA error {int(err)}: {name.decode() if isinstance(name, bytes) else name}")
    return values[0] if len(values) == 1 else tuple(values)


class Pinned:
    """A page-locked host array (cudaMallocHost), viewed as numpy."""

    def __init__(self, rt: Any, shape: tuple[int, ...], dtype: Any):
        import numpy as np

        self.rt, self.dtype = rt, np.dtype(dtype)
        self.nbytes = int(np.prod(shape)) * self.dtype.itemsize
        self.ptr = int(ok(rt, rt.cudaMallocHost(self.nbytes)))
        raw = (ctypes.c_byte * self.nbytes).from_address(self.ptr)
        self.array = np.frombuffer(raw, dtype=self.dtype).reshape(shape)

    def free(self) -> None:
        ok(self.rt, self.rt.cudaFreeHost(self.ptr))


class Context:
    """One execution context with its own stream, optimization profile, pinned host and device buffers."""

    def __init__(self, rt: Any, engine: trt.ICudaEngine, profile: int, max_batch: int, input_name: str,
                 scores: str):
        import numpy as np
        import tensorrt as trt

        self.rt = rt
        self.context = engine.create_execution_context()
        self.stream = ok(rt, rt.cudaStreamCreateWithFlags(rt.cudaStreamNonBlocking))
        self.handle = int(self.stream)  # TensorRT takes the raw cudaStream_t as an integer
        self.context.set_optimization_profile_async(profile, self.handle)
        self.input_name, self.scores = input_name, scores
        self.sample_shape = tuple(int(d) for d in engine.get_tensor_shape(input_name)[1:])
        self.context.set_input_shape(input_name, trt.Dims([max_batch, *self.sample_shape]))
        self.device: dict[str, int] = {}
        self.host: dict[str, Pinned] = {}
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            dims = (max_batch, *self.sample_shape) if name == input_name else self.context.get_tensor_shape(name)[:]
            dtype = trt.nptype(engine.get_tensor_dtype(name))
            nbytes = int(np.prod(dims)) * np.dtype(dtype).itemsize
            self.device[name] = int(ok(rt, rt.cudaMalloc(nbytes)))
            self.context.set_tensor_address(name, self.device[name])
            if name in (input_name, scores):
                self.host[name] = Pinned(rt, dims, dtype)
        self.batch: int | None = None

    def run(self, batch: np.ndarray) -> np.ndarray:
        """H2D copy, enqueue, D2H copy on this context's stream; returns a view of the pinned scores."""
        import numpy as np
        import tensorrt as trt

        rt, n = self.rt, len(batch)
        h2d, d2h = rt.cudaMemcpyKind.cudaMemcpyHostToDevice, rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        host_in, host_out = self.host[self.input_name], self.host[self.scores]
        np.copyto(host_in.array[:n], batch, casting="same_kind")  # pageable -> pinned (and fp32 -> fp16 if so)
        if self.batch != n:
            self.context.set_input_shape(self.input_name, trt.Dims([n, *self.sample_shape]))
            self.batch = n
        ok(rt, rt.cudaMemcpyAsync(self.device[self.input_name], host_in.ptr, n * host_in.array[0].nbytes, h2d,
                                  self.stream))
        if not self.context.execute_async_v3(self.handle):
            raise RuntimeError("TensorRT execute_async_v3 failed (see TensorRT's log above)")
        ok(rt, rt.cudaMemcpyAsync(host_out.ptr, self.device[self.scores], n * host_out.array[0].nbytes, d2h,
                                  self.stream))
        ok(rt, rt.cudaStreamSynchronize(self.stream))
        return host_out.array[:n]

    def close(self) -> None:
        for ptr in self.device.values():
            self.rt.cudaFree(ptr)
        for pinned in self.host.values():
            pinned.free()
        self.rt.cudaStreamDestroy(self.stream)
