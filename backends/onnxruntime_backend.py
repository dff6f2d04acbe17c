"""ONNX Runtime backend: CPUExecutionProvider, or CUDA/TensorRT execution providers with onnxruntime-gpu."""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from bench.backends import cpu_streams
from bench.backends.base import Availability, Backend, BackendOptions, Need, Support, argmax_classes, logits_output
from bench.backends.worker_pool import WorkerPool
from bench.errors import BackendUnavailable
from bench.system.devices import nvml_gpu_count

if TYPE_CHECKING:  # type hints only: the declarations import without numpy (`bench run --help`)
    import numpy as np

DEVICE_PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
# On CUDA, RunConfig.extra["ort_provider"] picks ONNX Runtime's own CUDA kernels or its TensorRT provider.
GPU_PROVIDERS = {"cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}
# --streams N on the CPU: N sessions of threads // N intra-op threads each, not N concurrent runs on one session
# (whose one intra-op pool the runs share and contend for): see docs/cpu-backends.md for the A/B.
SESSIONS = "one session per stream, threads // streams intra-op threads each"


def _fp16_provider(options) -> str | None:
    if (options.extra.get("ort_provider") or "cuda") == "tensorrt":
        return None
    return "fp16 only through its TensorRT execution provider (--ort-provider tensorrt)"


# fp16: ONNX Runtime's CUDA kernels would run the fp32 graph; its TensorRT provider builds fp16 engines.
TENSORRT_FOR_FP16 = Need(_fp16_provider, lambda: None, "its TensorRT execution provider (--ort-provider tensorrt)")


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    pip_extra = "onnxruntime"
    packages = ("onnxruntime", "onnxruntime-gpu")
    model_format = "onnx"
    SUPPORTS = {
        "cpu": Support(("fp32", "int8"), options=("streams", "calibration"), inputs=("model", "onnx"),
                       needs={"int8": "calibration"}),
        "cuda": Support(("fp32", "tf32", "fp16"), options=("ort_provider",), inputs=("model", "onnx"),
                        needs={"fp16": TENSORRT_FOR_FP16}),
    }

    @classmethod
    def check_options(cls, options: BackendOptions) -> None:
        """The declaration (fp16 needs the TensorRT provider), then that provider's own rule: no strict fp32."""
        super().check_options(options)
        gpu_provider = options.extra.get("ort_provider") or "cuda"
        if gpu_provider not in GPU_PROVIDERS:
            raise cls.refusal(options, f"--ort-provider {gpu_provider}", "no such execution provider",
                              tuple(GPU_PROVIDERS))
        on_cuda = options.device.startswith("cuda")
        if options.precision == "fp32" and on_cuda and gpu_provider == "tensorrt":
            raise cls.refusal(options, "precision fp32 with --ort-provider tensorrt", "the TensorRT provider has "
                              "no switch for TF32, which TensorRT turns on by default, so it cannot promise strict "
                              "fp32: use --precision tf32 or fp16 with it, or --ort-provider cuda for fp32")

    @classmethod
    def probe(cls) -> Availability:
        if importlib.util.find_spec("onnxruntime") is None:
            return Availability(False, f"onnxruntime is not installed: pip install 'bench[{cls.pip_extra}]'")
        import onnxruntime as ort

        providers = ort.get_available_providers()
        # onnxruntime-gpu lists its CUDA provider with or without a GPU: count real GPUs through NVML.
        gpus = nvml_gpu_count() if "CUDAExecutionProvider" in providers else 0
        devices = ["cpu"] + [f"cuda:{i}" for i in range(gpus)]
        return Availability(True, version=ort.__version__, devices=devices)

    def load(self, model, options: BackendOptions) -> None:
        import onnxruntime as ort

        from bench.data.preprocessing import integer_pixels
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
        # Threads always set on the CPU, so the record says what ran (ORT's own default: physical cores).
        split = cpu_streams.apply(self, options, cpu_streams.physical_cores())
        if split is not None:  # one session per stream, each with its share of the threads (SESSIONS above)
            so.intra_op_num_threads = split.per_stream
        elif options.threads:
            so.intra_op_num_threads = options.threads
        self.path, self.quantization = onnx_file(model), None
        if options.precision == "int8":  # quantized once on the calibration set, then cached
            from bench.backends.int8 import onnxruntime_int8

            self.path, self.quantization = onnxruntime_int8(model, options)
        providers: list = [provider]
        self.sample_form = "float32-nchw"
        if kind == "cuda" and options.precision != "int8" and integer_pixels(model.preprocessing):
            # uint8 NHWC in, normalised in the graph on the GPU (backends/device_input.py): a quarter of the bytes.
            # Not run on a GPU in the session that added it; the prefix is tested on the CPU provider.
            from bench.backends.onnx_files import pixels_onnx

            self.path = pixels_onnx(self.path, model.preprocessing, model.input_size)
            self.sample_form = "uint8-nhwc"
        if kind == "cuda":
            providers = self._gpu_providers(provider, int(index or 0), options, self.path)
            # No node may quietly run on the CPU: session creation fails instead (recorded as a clear error).
            so.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
        try:
            # A worker takes an idle session, runs its batch, gives it back.
            self.pool = WorkerPool(ort.InferenceSession(str(self.path), so, providers=providers)
                                   for _ in range(split.streams if split else 1))
            self.session = self.pool.items[0]
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
        with self.pool.use() as session:
            return session.run([self.output_name], {self.input_name: batch})[0]

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return argmax_classes(self.logits(batch))

    def describe(self) -> dict:
        so = self.session.get_session_options()
        return {
            "name": self.name,
            "version": self.ort.__version__,
            "device": self.device,
            "sample_form": self.sample_form,
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
        from bench.backends.onnx_files import onnx_input
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
