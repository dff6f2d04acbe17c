"""Native TensorRT backend (TensorRT 10 Python API): an engine built from the ONNX model, cached, run on CUDA.

- Precisions fp32, fp16, int8 (implicit quantization: an entropy calibrator over the calibration set, whose
  calibration cache is kept, so a rebuild does not calibrate again).
- Batch 1..max through optimization profiles; one profile per execution context, because a dynamic-shape
  profile may serve only one context at a time.
- Engine cache keyed by the ONNX file's hash, precision, max batch, profile count, TensorRT version and GPU
  name (and the calibration set for int8): a second run deserializes instead of building (minutes).
- `concurrency` execution contexts, each with its own CUDA stream, pinned host buffers and device buffers:
  the scenarios' worker threads each take a free context, so copies and kernels of different batches overlap.
  The host-to-device copy is inside predict, so inside LoadGen's timed region.

Without TensorRT this module still imports (tensorrt is imported in load), so `bench backends` can say why.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import queue
import re
import time
from pathlib import Path

import numpy as np

from backends.base import Availability, Backend, BackendOptions, argmax_classes
from bench.cache import atomic_write, cache_dir, file_sha256
from bench.errors import BackendUnavailable, UsageError

NVIDIA_INDEX = "https://pypi.nvidia.com"
INSTALL = (f"pip install 'bench[tensorrt]' --extra-index-url {NVIDIA_INDEX} (TensorRT's wheels come from NVIDIA's "
           f"package index: pip install --extra-index-url {NVIDIA_INDEX} tensorrt)")
WORKSPACE_BYTES = 4 << 30
MAX_CALIBRATION_BATCH = 32


# ---- pure helpers (tested without TensorRT) -----------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")


def images_id(images: list[Path]) -> str:
    """A calibration set's identity: its images' names and contents."""
    digest = hashlib.sha256()
    for p in images:
        digest.update(f"{p.name}:{file_sha256(p)}\n".encode())
    return digest.hexdigest()[:12]


def engine_path(model_hash: str, precision: str, max_batch: int, profiles: int, trt_version: str, gpu_name: str,
                calibration: str | None = None, root: Path | None = None) -> Path:
    """Where the engine for this combination is cached; any change of key builds a new engine."""
    parts = [model_hash, precision, f"b{max_batch}", f"p{profiles}", f"trt{trt_version}", _slug(gpu_name)]
    if calibration:
        parts.append(f"cal{calibration}")
    return (root or cache_dir("tensorrt")) / ("-".join(parts) + ".engine")


def calibration_cache_path(model_hash: str, calibration: str, profile: str, root: Path | None = None) -> Path:
    """TensorRT's calibration table, kept beside the engines: a rebuild (new GPU, new TensorRT) skips calibration."""
    return (root or cache_dir("tensorrt")) / f"{model_hash}-cal{calibration}-{profile}.calib"


class CalibrationBatches:
    """Full batches of calibration images, preprocessed exactly as the benchmark's samples are.

    TensorRT's calibrator asks for fixed-size batches: the batch is min(max batch, images, 32) and a partial
    last batch is dropped (`used` says how many images calibrate).
    """

    def __init__(self, images: list[Path], profile: str, max_batch: int):
        if not images:
            raise UsageError("the calibration set is empty: give --calibration DIR with images")
        self.images, self.profile = list(images), profile
        self.batch_size = max(1, min(max_batch, len(self.images), MAX_CALIBRATION_BATCH))
        self.used = len(self.images) // self.batch_size * self.batch_size

    def __len__(self) -> int:
        return self.used // self.batch_size

    def __iter__(self):
        from bench.preprocessing import preprocess

        for start in range(0, self.used, self.batch_size):
            chunk = self.images[start:start + self.batch_size]
            yield np.ascontiguousarray(np.stack([preprocess(str(p), self.profile) for p in chunk]), dtype=np.float32)


# ---- CUDA runtime through cuda-python --------------------------------------------------------------------


def _cudart():
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.8
    except ImportError:
        from cuda import cudart  # older cuda-python
    return cudart


def _ok(cudart, result):
    """cuda-python returns (error, *values): raise on error, return the value(s)."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        name = cudart.cudaGetErrorString(err)[1]
        raise RuntimeError(f"CUDA error {int(err)}: {name.decode() if isinstance(name, bytes) else name}")
    return values[0] if len(values) == 1 else tuple(values)


class _Pinned:
    """A page-locked host array (cudaMallocHost), viewed as numpy."""

    def __init__(self, cudart, shape: tuple[int, ...], dtype):
        self.cudart, self.dtype = cudart, np.dtype(dtype)
        self.nbytes = int(np.prod(shape)) * self.dtype.itemsize
        self.ptr = int(_ok(cudart, cudart.cudaMallocHost(self.nbytes)))
        raw = (ctypes.c_byte * self.nbytes).from_address(self.ptr)
        self.array = np.frombuffer(raw, dtype=self.dtype).reshape(shape)

    def free(self) -> None:
        _ok(self.cudart, self.cudart.cudaFreeHost(self.ptr))


class _Context:
    """One execution context with its own stream, optimization profile, pinned host and device buffers."""

    def __init__(self, trt, cudart, engine, profile: int, max_batch: int, input_name: str, scores: str):
        self.cudart = cudart
        self.context = engine.create_execution_context()
        self.stream = _ok(cudart, cudart.cudaStreamCreateWithFlags(cudart.cudaStreamNonBlocking))
        self.handle = int(self.stream)  # TensorRT takes the raw cudaStream_t as an integer
        self.context.set_optimization_profile_async(profile, self.handle)
        self.input_name, self.scores = input_name, scores
        shape = tuple(engine.get_tensor_shape(input_name))
        self.sample_shape = tuple(int(d) for d in shape[1:])
        self.context.set_input_shape(input_name, (max_batch, *self.sample_shape))
        self.device: dict[str, int] = {}
        self.host: dict[str, _Pinned] = {}
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            dims = (max_batch, *self.sample_shape) if name == input_name else tuple(self.context.get_tensor_shape(name))
            dtype = trt.nptype(engine.get_tensor_dtype(name))
            nbytes = int(np.prod(dims)) * np.dtype(dtype).itemsize
            self.device[name] = int(_ok(cudart, cudart.cudaMalloc(nbytes)))
            self.context.set_tensor_address(name, self.device[name])
            if name in (input_name, scores):
                self.host[name] = _Pinned(cudart, dims, dtype)
        self.batch = None

    def run(self, batch: np.ndarray) -> np.ndarray:
        """H2D copy, enqueue, D2H copy on this context's stream; returns a view of the pinned scores."""
        cudart, n = self.cudart, len(batch)
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        host_in, host_out = self.host[self.input_name], self.host[self.scores]
        np.copyto(host_in.array[:n], batch, casting="same_kind")  # pageable -> pinned (and fp32 -> fp16 if so)
        if self.batch != n:
            self.context.set_input_shape(self.input_name, (n, *self.sample_shape))
            self.batch = n
        _ok(cudart, cudart.cudaMemcpyAsync(self.device[self.input_name], host_in.ptr,
                                           n * host_in.array[0].nbytes, h2d, self.stream))
        if not self.context.execute_async_v3(self.handle):
            raise RuntimeError("TensorRT execute_async_v3 failed (see TensorRT's log above)")
        _ok(cudart, cudart.cudaMemcpyAsync(host_out.ptr, self.device[self.scores], n * host_out.array[0].nbytes,
                                           d2h, self.stream))
        _ok(cudart, cudart.cudaStreamSynchronize(self.stream))
        return host_out.array[:n]

    def close(self) -> None:
        for ptr in self.device.values():
            self.cudart.cudaFree(ptr)
        for pinned in self.host.values():
            pinned.free()
        self.cudart.cudaStreamDestroy(self.stream)


def _make_calibrator(trt, cudart, batches: CalibrationBatches, cache: Path):
    """An IInt8EntropyCalibrator2 fed from `batches`; TensorRT reads and writes its table at `cache`."""

    class Calibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.batches = iter(batches)
            self.device = None
            self.seen = 0

        def get_batch_size(self):
            return batches.batch_size

        def get_batch(self, names):
            try:
                batch = next(self.batches)
            except StopIteration:
                return None
            if self.device is None:
                self.device = int(_ok(cudart, cudart.cudaMalloc(batch.nbytes)))
            _ok(cudart, cudart.cudaMemcpy(self.device, batch.ctypes.data, batch.nbytes,
                                          cudart.cudaMemcpyKind.cudaMemcpyHostToDevice))
            self.seen += len(batch)
            return [self.device]

        def read_calibration_cache(self):
            return cache.read_bytes() if cache.is_file() else None

        def write_calibration_cache(self, table):
            atomic_write(cache, bytes(table))

    return Calibrator()


# ---- the backend -----------------------------------------------------------------------------------------


class TensorRTBackend(Backend):
    name = "tensorrt"
    extra = "tensorrt"
    precisions = ("fp32", "fp16", "int8")
    devices = ("cuda",)
    runs_onnx = True

    @classmethod
    def probe(cls) -> Availability:
        if importlib.util.find_spec("tensorrt") is None:
            return Availability(False, f"TensorRT is not installed: {INSTALL}")
        if importlib.util.find_spec("cuda") is None:
            return Availability(False, "cuda-python is not installed (TensorRT's buffers and streams need it): "
                                       "pip install 'bench[tensorrt]'")
        import tensorrt as trt

        from bench.devices import nvml_gpu_count

        gpus = nvml_gpu_count()
        if gpus == 0:
            return Availability(False, "no NVIDIA GPU is visible (NVML finds none): TensorRT runs only on one",
                                version=trt.__version__)
        return Availability(True, version=trt.__version__, devices=[f"cuda:{i}" for i in range(gpus)])

    @classmethod
    def check_options(cls, options: BackendOptions) -> None:
        super().check_options(options)
        if options.precision == "int8":
            from backends.precision import require_calibration

            require_calibration(cls.name, options)

    def load(self, model, options: BackendOptions) -> None:
        import tensorrt as trt

        from bench.devices import gpu_identity
        from bench.models import onnx_file

        cudart = _cudart()
        self.trt, self.cudart, self.options = trt, cudart, options
        self.index = int(options.device.partition(":")[2] or 0)
        _ok(cudart, cudart.cudaSetDevice(self.index))
        props = _ok(cudart, cudart.cudaGetDeviceProperties(self.index))
        gpu_name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
        gpu_name = gpu_name.split("\x00")[0]
        single = options.intent == "latency"
        self.concurrency = int(options.extra.get("gpu_streams") or (1 if single else 2))
        self.max_batch = options.batch_size
        self.onnx = onnx_file(model)
        model_hash = file_sha256(self.onnx)[:16]
        self.logger = trt.Logger(trt.Logger.WARNING)

        self.calibration = None
        calibrator = None
        calibration_id = None
        if options.precision == "int8":
            from backends.precision import calibration_images

            images = calibration_images(options.extra["calibration"], options.extra.get("calibration_dataset"))
            calibration_id = images_id(images)
            batches = CalibrationBatches(images, model.preprocessing, self.max_batch)
            cache = calibration_cache_path(model_hash, calibration_id, model.preprocessing)
            self.calibration = {"images": batches.used, "batch": batches.batch_size, "cache_file": str(cache),
                                "cache_reused": cache.is_file(), "preprocessing": model.preprocessing,
                                "method": "IInt8EntropyCalibrator2 (implicit quantization)"}
            calibrator = _make_calibrator(trt, cudart, batches, cache)

        self.engine_file = engine_path(model_hash, options.precision, self.max_batch, self.concurrency,
                                       trt.__version__, gpu_name, calibration_id)
        self.engine_cache = "hit" if self.engine_file.is_file() else "built"
        start = time.perf_counter()
        if self.engine_cache == "built":
            atomic_write(self.engine_file, self._build(trt, calibrator, opt_batch=1 if single else self.max_batch))
        self.build_s = time.perf_counter() - start
        runtime = trt.Runtime(self.logger)
        self.engine = runtime.deserialize_cuda_engine(self.engine_file.read_bytes())
        if self.engine is None:
            raise BackendUnavailable(f"TensorRT cannot deserialize {self.engine_file} (corrupt, or built by another "
                                     "TensorRT): delete it and run again to rebuild")
        self.runtime = runtime
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        if len(inputs) != 1:
            raise BackendUnavailable(f"{self.onnx}: a classifier with one input is expected, it has {inputs}")
        self.input_name = inputs[0]
        self.scores = self._scores_output(trt, [n for n in names if n not in inputs])
        self.contexts = [_Context(trt, cudart, self.engine, k, self.max_batch, self.input_name, self.scores)
                         for k in range(self.concurrency)]
        self.free: queue.SimpleQueue = queue.SimpleQueue()
        for context in self.contexts:
            self.free.put(context)
        self.identity = gpu_identity(self.index)
        self.gpu_name = gpu_name
        self.compute_capability = f"{props.major}.{props.minor}"

    def _scores_output(self, trt, outputs: list[str]) -> str:
        """The [batch, classes] float output (MLPerf's resnet50_v1.onnx also has an int64 ArgMax output)."""
        for name in outputs:
            dtype = self.engine.get_tensor_dtype(name)
            if dtype in (trt.DataType.FLOAT, trt.DataType.HALF) and len(self.engine.get_tensor_shape(name)) == 2:
                return name
        raise BackendUnavailable(f"{self.onnx}: no [batch, classes] float output among {outputs}")

    def _build(self, trt, calibrator, opt_batch: int) -> bytes:
        """Parse the ONNX model and build a serialized engine (untimed; minutes for ResNet-50 int8)."""
        builder = trt.Builder(self.logger)
        network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
        parser = trt.OnnxParser(network, self.logger)
        if not parser.parse_from_file(str(self.onnx)):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise BackendUnavailable(f"TensorRT cannot parse {self.onnx}: {errors}")
        tensor = network.get_input(0)
        batch_dim, *sample = tuple(tensor.shape)
        if batch_dim != -1 and batch_dim < self.max_batch:
            raise UsageError(f"{self.onnx} has a fixed batch of {batch_dim}; use --batch-size {batch_dim} or export "
                             "the model with a dynamic batch axis")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
        profiles = []
        for _ in range(self.concurrency):
            profile = builder.create_optimization_profile()
            profile.set_shape(tensor.name, (1, *sample), (opt_batch, *sample), (self.max_batch, *sample))
            config.add_optimization_profile(profile)
            profiles.append(profile)
        if self.options.precision == "fp16":
            config.set_flag(trt.BuilderFlag.FP16)
        if self.options.precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)
            config.int8_calibrator = calibrator
            config.set_calibration_profile(profiles[0])
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise BackendUnavailable(f"TensorRT could not build an engine from {self.onnx} "
                                     f"({self.options.precision}, batch 1..{self.max_batch}): see its log above")
        return bytes(serialized)

    def logits(self, batch: np.ndarray) -> np.ndarray:
        return self._run(batch, copy=True)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self._run(batch, copy=False)

    def _run(self, batch: np.ndarray, copy: bool) -> np.ndarray:
        if len(batch) > self.max_batch:
            raise RuntimeError(f"batch of {len(batch)} exceeds the engine's max batch {self.max_batch}")
        _ok(self.cudart, self.cudart.cudaSetDevice(self.index))  # the CUDA device is per thread
        context = self.free.get()
        try:
            scores = context.run(batch)
            return scores.astype(np.float32) if copy else argmax_classes(scores)  # both copy out of pinned memory
        finally:
            self.free.put(context)

    def synchronize(self) -> None:
        _ok(self.cudart, self.cudart.cudaSetDevice(self.index))
        _ok(self.cudart, self.cudart.cudaDeviceSynchronize())

    def describe(self) -> dict:
        return {
            "name": self.name,
            "version": self.trt.__version__,
            "tensorrt_version": self.trt.__version__,
            "device": self.options.device,
            "ran_on": self.options.device,
            "gpu": self.gpu_name,
            "compute_capability": self.compute_capability,
            **self.identity,
            "precision": self.options.precision,
            "precision_note": ("implicit int8 quantization; layers without an int8 kernel run in fp32"
                               if self.options.precision == "int8" else None),
            "batch_size": self.options.batch_size,
            "profiles": f"batch 1..{self.max_batch}, one per context",
            "execution_contexts": self.concurrency,
            "streams": self.concurrency,
            "engine_file": str(self.engine_file),
            "engine_cache": self.engine_cache,
            "engine_build_s": self.build_s if self.engine_cache == "built" else 0.0,
            "model_file": str(self.onnx),
            "calibration": self.calibration,
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
