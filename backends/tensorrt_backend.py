"""Native TensorRT backend (TensorRT 10.13+ and 11.x): an engine built from the ONNX model, cached, run on CUDA.

- Strongly typed networks only (`tensorrt_engine.py`): the ONNX file's types are the precision.
  fp32 (TF32 off), tf32 (TF32 on), fp16 (an fp16 copy of the ONNX model), int8 (a Q/DQ ONNX model made by
  onnxruntime's quantize_static on the calibration set, symmetric signed int8 as TensorRT wants it).
- Batch 1..max through optimization profiles, opt at 1 for latency runs and at max for throughput runs; one
  profile per execution context, because a dynamic-shape profile may serve only one context at a time.
- Engine cache keyed by the built ONNX file's hash, precision, TF32, the min/opt/max shapes, profile count,
  TensorRT version and GPU name: a second run deserializes instead of building (minutes).
- `concurrency` execution contexts, each with its own CUDA stream, pinned host buffers and device buffers:
  the scenarios' worker threads each take a free context, so copies and kernels of different batches overlap.
  The host-to-device copy is inside predict, so inside LoadGen's timed region.

Without TensorRT this module still imports (tensorrt is imported in load), so `bench backends` can say why.
"""

from __future__ import annotations

import importlib.util
import time
from typing import TYPE_CHECKING

from bench.backends.base import Availability, Backend, BackendOptions, Support, argmax_classes
from bench.backends.tensorrt_engine import (
    Context,
    Profile,
    build_engine,
    cudart,
    engine_path,
    io_names,
    load_engine,
    ok,
)
from bench.backends.worker_pool import WorkerPool
from bench.cache import atomic_write, file_sha256
from bench.errors import BackendUnavailable

if TYPE_CHECKING:  # type hints only: the declarations import without numpy (`bench run --help`)
    import numpy as np

# CUDA 13 wheels, all on PyPI (tensorrt-cu13 pulls tensorrt-cu13-libs and -bindings from pypi.org).
INSTALL = "pip install 'bench[tensorrt]' (TensorRT 10.13+ or 11 for CUDA 13, from PyPI)"
PRECISION_NOTES = {
    "fp32": "strict fp32: strongly typed fp32 network, BuilderFlag.TF32 cleared",
    "tf32": "fp32 network with BuilderFlag.TF32 set: convolutions and matrix products in TF32",
    "fp16": "strongly typed network from an fp16 copy of the ONNX model (fp32 inputs and outputs)",
    "int8": "explicit quantization: Q/DQ ONNX model (onnxruntime quantize_static, symmetric int8); "
            "layers without Q/DQ run in fp32",
}


def has_module(name: str) -> bool:
    """Whether a real (not namespace) package is installed. A bare namespace is not one: any CUDA tool may make a
    `cuda` directory, and tensorrt-stubs leaves a `tensorrt` one holding only .pyi files. find_spec of a
    submodule imports its parent: a missing parent is 'not installed', not an error."""
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return False
    return spec is not None and spec.origin not in (None, "namespace")


class TensorRTBackend(Backend):
    name = "tensorrt"
    pip_extra = "tensorrt"
    packages = ("tensorrt", "cuda-python")
    model_format = "onnx"
    SUPPORTS = {"cuda": Support(("fp32", "tf32", "fp16", "int8"), options=("gpu_streams", "calibration"),
                                inputs=("model", "onnx"), needs={"int8": "calibration"})}

    @classmethod
    def probe(cls) -> Availability:
        if not has_module("tensorrt"):
            return Availability(False, f"TensorRT is not installed: {INSTALL}")
        if not has_module("cuda.bindings"):
            return Availability(False, "cuda-python's cuda.bindings is not installed (TensorRT's buffers and "
                                       "streams need it): pip install 'bench[tensorrt]'")
        import tensorrt as trt

        from bench.system.devices import nvml_gpu_count

        gpus = nvml_gpu_count()
        if gpus == 0:
            return Availability(False, "no NVIDIA GPU is visible (NVML finds none): TensorRT runs only on one",
                                version=trt.__version__)
        return Availability(True, version=trt.__version__, devices=[f"cuda:{i}" for i in range(gpus)])

    def _onnx_for_precision(self, model, options: BackendOptions):
        """The ONNX file whose types say the precision, and the quantization record for int8."""
        from bench.backends.onnx_files import fp16_onnx
        from bench.models import onnx_file

        source = onnx_file(model)
        if options.precision == "fp16":
            return fp16_onnx(source), None
        if options.precision == "int8":
            from bench.backends.int8 import TENSORRT_METHOD, onnxruntime_int8

            return onnxruntime_int8(model, options, TENSORRT_METHOD)
        return source, None

    def load(self, model, options: BackendOptions) -> None:
        import tensorrt as trt

        from bench.backends.onnx_files import onnx_input, pixels_onnx
        from bench.data.preprocessing import integer_pixels
        from bench.system.devices import canonical, gpu_identity

        rt = cudart()
        self.trt, self.rt, self.options = trt, rt, options
        self.device = canonical(options.device)
        self.index = int(self.device.partition(":")[2])
        ok(rt, rt.cudaSetDevice(self.index))
        props = ok(rt, rt.cudaGetDeviceProperties(self.index))
        name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
        self.gpu_name = name.split("\x00")[0]
        self.compute_capability = f"{props.major}.{props.minor}"
        latency = options.intent == "latency"  # one query at a time: one context, an engine tuned for it
        self.concurrency = int(options.extra.get("gpu_streams") or (1 if latency else 2))
        self.max_batch = options.batch_size
        self.onnx, self.quantization = self._onnx_for_precision(model, options)
        self.sample_form = "float32-nchw"
        if options.precision != "int8" and integer_pixels(model.preprocessing):
            # uint8 NHWC in, normalised by the engine's first layers (backends/device_input.py): a quarter of the
            # bytes over the bus. Not run on a GPU in the session that added it.
            self.onnx = pixels_onnx(self.onnx, model.preprocessing, model.input_size)
            self.sample_form = "uint8-nhwc"
        shape = onnx_input(self.onnx)
        shape.check_batch(self.onnx, self.max_batch)
        self.profile = Profile.for_batches(shape.sample, 1 if latency else self.max_batch, self.max_batch)
        self.tf32 = options.precision == "tf32"
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.engine_file = engine_path(file_sha256(self.onnx)[:16], options.precision, self.tf32, self.profile,
                                       self.concurrency, trt.__version__, self.gpu_name)
        self.engine_cache = "hit" if self.engine_file.is_file() else "built"
        start = time.perf_counter()
        if self.engine_cache == "built":
            atomic_write(self.engine_file, build_engine(self.onnx, self.profile, self.concurrency, self.tf32,
                                                        self.logger))
        self.build_s = time.perf_counter() - start
        self.runtime, self.engine = load_engine(self.engine_file, self.logger)
        try:
            self.input_name, self.scores = io_names(self.engine)
        except BackendUnavailable as exc:
            raise BackendUnavailable(f"{self.onnx}: {exc}") from None
        self.contexts = [Context(rt, self.engine, k, self.max_batch, self.input_name, self.scores)
                         for k in range(self.concurrency)]
        self.pool = WorkerPool(self.contexts)
        self.identity = gpu_identity(self.index)

    def logits(self, batch: np.ndarray) -> np.ndarray:
        return self._run(batch, copy=True)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self._run(batch, copy=False)

    def _run(self, batch: np.ndarray, copy: bool) -> np.ndarray:
        if len(batch) > self.max_batch:
            raise RuntimeError(f"batch of {len(batch)} exceeds the engine's max batch {self.max_batch}")
        ok(self.rt, self.rt.cudaSetDevice(self.index))  # the CUDA device is per thread
        with self.pool.use() as context:
            scores = context.run(batch)
            return scores.astype("float32") if copy else argmax_classes(scores)  # both copy out of pinned memory

    def synchronize(self) -> None:
        ok(self.rt, self.rt.cudaSetDevice(self.index))
        ok(self.rt, self.rt.cudaDeviceSynchronize())

    def describe(self) -> dict:
        return {
            "name": self.name,
            "version": self.trt.__version__,
            "tensorrt_version": self.trt.__version__,
            "device": self.device,
            "ran_on": self.device,
            "sample_form": self.sample_form,
            "gpu": self.gpu_name,
            "compute_capability": self.compute_capability,
            **self.identity,
            "precision": self.options.precision,
            "tf32": self.tf32,
            "precision_note": PRECISION_NOTES[self.options.precision],
            "network": "strongly typed",
            "batch_size": self.options.batch_size,
            "profiles": f"min/opt/max {self.profile.key()}, one per context",
            "execution_contexts": self.concurrency,
            "streams": self.concurrency,
            "engine_file": str(self.engine_file),
            "engine_cache": self.engine_cache,
            "engine_build_s": self.build_s if self.engine_cache == "built" else 0.0,
            "model_file": str(self.onnx),
            **({"quantization": self.quantization} if self.quantization else {}),
            "pinned_host_buffers": True,
            "non_blocking_h2d": True,
            "h2d_copy_in_timed_region": True,
            "h2d": "numpy batch -> pinned buffer -> cudaMemcpyAsync on the context's stream, inside predict",
        }

    def close(self) -> None:
        for context in getattr(self, "contexts", []):
            try:
                context.close()
            except Exception:
                pass
