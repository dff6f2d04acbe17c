"""ONNX Runtime backend: CPUExecutionProvider, or CUDA/TensorRT execution providers with onnxruntime-gpu."""

from __future__ import annotations

import importlib.util
import queue

import numpy as np

from backends.base import Availability, Backend, BackendOptions, argmax_classes, logits_output
from backends.precision import require_calibration
from bench.errors import BackendUnavailable
from bench.system.devices import nvml_gpu_count

DEVICE_PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
# On CUDA, RunConfig.extra["ort_provider"] picks ONNX Runtime's own CUDA kernels or its TensorRT provider.
GPU_PROVIDERS = {"cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}
# --streams N on the CPU: N sessions of threads // N intra-op threads each, not N concurrent runs on one session
# (whose one intra-op pool the runs share and contend for): see README, CPU backends, for the A/B.
SESSIONS = "one session per stream, threads // streams intra-op threads each"


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    extra = "onnxruntime"
    precisions = ("fp32", "tf32", "fp16", "int8")
    devices = ("cpu", "cuda")
    runs_onnx = True

    @classmethod
    def check_options(cls, options: BackendOptions) -> None:
        super().check_options(options)
        from backends.precision import refuse_tf32_off_cuda

        refuse_tf32_off_cuda(cls.name, options, "fp32, int8")
        if options.precision == "int8":
            if not options.device.startswith("cpu"):
                raise BackendUnavailable(f"backend {cls.name} runs int8 only on the CPU; on {options.device} it "
                                         "supports: fp32")
            require_calibration(cls.name, options)
        gpu_provider = options.extra.get("ort_provider") or "cuda"
        if gpu_provider not in GPU_PROVIDERS:
            raise BackendUnavailable(f"--ort-provider {gpu_provider!r}: choose one of {', '.join(GPU_PROVIDERS)}")
        if options.precision == "fp32" and options.device.startswith("cuda") and gpu_provider == "tensorrt":
            raise BackendUnavailable(f"backend {cls.name}'s TensorRT provider has no switch for TF32, which TensorRT "
                                     "turns on by default, so it cannot promise strict fp32: use --precision tf32 "
                                     "or fp16 with it, or --ort-provider cuda for fp32")
        if options.precision == "fp16" and not (options.device.startswith("cuda") and gpu_provider == "tensorrt"):
            raise BackendUnavailable(f"backend {cls.name} runs fp16 only through its TensorRT execution provider "
                                     "(--device cuda --ort-provider tensorrt); here it supports: fp32, and int8 on "
                                     "the CPU")

    @classmethod
    def probe(cls) -> Availability:
        if importlib.util.find_spec("onnxruntime") is None:
            return Availability(False, f"onnxruntime is not installed: pip install 'bench[{cls.extra}]'")
        import onnxruntime as ort

        providers = ort.get_available_providers()
        # onnxruntime-gpu lists its CUDA provider with or without a GPU: count real GPUs through NVML.
        gpus = nvml_gpu_count() if "CUDAExecutionProvider" in providers else 0
        devices = ["cpu"] + [f"cuda:{i}" for i in range(gpus)]
        return Availability(True, version=ort.__version__, devices=devices)

    def load(self, model, options: BackendOptions) -> None:
        import onnxruntime as ort

        from bench.models import onnx_file
        from bench.system.devices import canonical

        self.options = options
        self.device = canonical(options.device)  # `cuda` is recorded as the cuda:0 it ran on
        kind, _, index = self.device.partition(":")
        provider = DEVICE_PROVIDERS[kind]
        if kind == "cuda":
            provider = GPU_PROVIDERS[options.extra.get("ort_provider") or "cuda"]
        if provider not in ort.get_available_providers():
            raise BackendUnavailable(
                f"--device {options.device} needs {provider}, which this onnxruntime lacks: "
                "pip install onnxruntime-gpu (in place of onnxruntime)"
            )
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.split = None
        if kind == "cpu":  # threads always set, so the record says what ran (ORT's own default: physical cores)
            from backends import cpu_streams

            self.split = cpu_streams.split(options, cpu_streams.physical_cores())
            self.concurrency = self.parallel_streams = self.split.streams
            # One session per stream, each with its share of the threads (SESSIONS below).
            so.intra_op_num_threads = self.split.per_stream
        elif options.threads:
            so.intra_op_num_threads = options.threads
        self.path, self.quantization = onnx_file(model), None
        if options.precision == "int8":  # quantized once on the calibration set, then cached
            from backends.int8 import onnxruntime_int8

            self.path, self.quantization = onnxruntime_int8(model, options)
        providers: list = [provider]
        if kind == "cuda":
            providers = self._gpu_providers(provider, int(index or 0), options, self.path)
            # No node may quietly run on the CPU: session creation fails instead (recorded as a clear error).
            so.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
        try:
            self.session = ort.InferenceSession(str(self.path), so, providers=providers)
            self.pool = queue.SimpleQueue()  # idle sessions: a worker takes one, runs its batch, gives it back
            self.pool.put(self.session)
            for _ in range(1, self.split.streams if self.split else 1):
                self.pool.put(ort.InferenceSession(str(self.path), so, providers=providers))
        except Exception as exc:
            raise BackendUnavailable(f"onnxruntime cannot load {self.path}: {exc}. Is it a valid ONNX model?")
        if self.session.get_providers()[0] != provider:  # never let ORT quietly run somewhere else
            raise BackendUnavailable(f"onnxruntime did not take {provider} (it chose {self.session.get_providers()})")
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = logits_output(self.session.get_outputs())
        self.ort = ort
        # TF32 only on CUDA: the CUDA provider's use_tf32 follows --precision; TensorRT's is on (no switch).
        self.tf32 = kind == "cuda" and (options.precision == "tf32" or provider == "TensorrtExecutionProvider")

    def logits(self, batch: np.ndarray) -> np.ndarray:
        session = self.pool.get()
        try:
            return session.run([self.output_name], {self.input_name: batch})[0]
        finally:
            self.pool.put(session)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return argmax_classes(self.logits(batch))

    def describe(self) -> dict:
        so = self.session.get_session_options()
        return {
            "name": self.name,
            "version": self.ort.__version__,
            "device": self.device,
            "providers": self.session.get_providers(),
            "precision": self.options.precision,
            "tf32": self.tf32,
            "threads": so.intra_op_num_threads or None,
            **({**self.split.describe(), "sessions": self.split.streams, "concurrency": SESSIONS}
               if self.split else {}),
            "batch_size": self.options.batch_size,
            "model_file": str(self.path),
            **({"quantization": self.quantization} if self.quantization else {}),
            **(self._gpu_describe() if self.options.device.startswith("cuda") else {}),
        }

    @staticmethod
    def _gpu_providers(provider: str, device_id: int, options: BackendOptions, path) -> list:
        # EXHAUSTIVE benchmarks every cuDNN algorithm once per input shape: the harness's warm-up runs every
        # batch size the scenario can issue, so no search happens inside the timed run.
        cuda = ("CUDAExecutionProvider", {"device_id": device_id, "cudnn_conv_algo_search": "EXHAUSTIVE",
                                          "use_tf32": int(options.precision == "tf32")})
        if provider == "CUDAExecutionProvider":
            return [cuda]
        from backends.onnx_files import onnx_input
        from bench.cache import cache_dir

        shape = onnx_input(path)  # the model's own sample shape, never a fixed 3x224x224
        shape.check_batch(path, options.batch_size)
        # TensorRT builds engines for the subgraphs it takes (cached on disk: the first run pays the build);
        # what it cannot take runs on the CUDA provider, never on the CPU.
        trt = ("TensorrtExecutionProvider", {
            "device_id": device_id, "trt_fp16_enable": options.precision == "fp16",
            "trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache_dir("ort-trt")),
            "trt_timing_cache_enable": True,
            "trt_profile_min_shapes": f"{shape.name}:{shape.shape(1)}",
            "trt_profile_max_shapes": f"{shape.name}:{shape.shape(options.batch_size)}",
            "trt_profile_opt_shapes": f"{shape.name}:{shape.shape(options.batch_size)}",
        })
        return [trt, cuda]

    def _gpu_describe(self) -> dict:
        from bench.system.devices import gpu_identity

        return {
            **gpu_identity(int(self.device.partition(":")[2])),
            "ran_on": self.device,
            "cpu_ep_fallback": "disabled (session.disable_cpu_ep_fallback=1)",
            "h2d_copy_in_timed_region": True,
            "h2d": "session.run copies the numpy batch to the GPU and the logits back, inside predict",
        }
