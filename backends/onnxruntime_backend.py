"""ONNX Runtime backend: CPUExecutionProvider, or CUDA/TensorRT execution providers with onnxruntime-gpu."""

from __future__ import annotations

import importlib.util

import numpy as np

from backends.base import Availability, Backend, BackendOptions, argmax_classes, logits_output
from bench.errors import BackendUnavailable

DEVICE_PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    extra = "onnxruntime"
    precisions = ("fp32",)
    devices = ("cpu", "cuda")
    runs_onnx = True

    @classmethod
    def probe(cls) -> Availability:
        if importlib.util.find_spec("onnxruntime") is None:
            return Availability(False, f"onnxruntime is not installed: pip install 'bench[{cls.extra}]'")
        import onnxruntime as ort

        providers = ort.get_available_providers()
        devices = ["cpu"] + (["cuda:0"] if "CUDAExecutionProvider" in providers else [])
        return Availability(True, version=ort.__version__, devices=devices)

    def load(self, model, options: BackendOptions) -> None:
        import onnxruntime as ort

        from bench.models import onnx_file

        self.options = options
        kind, _, index = options.device.partition(":")
        provider = DEVICE_PROVIDERS[kind]
        if provider not in ort.get_available_providers():
            raise BackendUnavailable(
                f"--device {options.device} needs {provider}, which this onnxruntime lacks: "
                "pip install onnxruntime-gpu (in place of onnxruntime)"
            )
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if options.threads:
            so.intra_op_num_threads = options.threads
        self.path = onnx_file(model)
        provider_options = [{"device_id": int(index or 0)}] if kind == "cuda" else [{}]
        try:
            self.session = ort.InferenceSession(str(self.path), so, providers=[provider], provider_options=provider_options)
        except Exception as exc:
            raise BackendUnavailable(f"onnxruntime cannot load {self.path}: {exc}. Is it a valid ONNX model?")
        if self.session.get_providers()[0] != provider:  # never let ORT quietly run somewhere else
            raise BackendUnavailable(f"onnxruntime did not take {provider} (it chose {self.session.get_providers()})")
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = logits_output(self.session.get_outputs())
        self.ort = ort

    def logits(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run([self.output_name], {self.input_name: batch})[0]

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return argmax_classes(self.logits(batch))

    def describe(self) -> dict:
        so = self.session.get_session_options()
        return {
            "name": self.name,
            "version": self.ort.__version__,
            "device": self.options.device,
            "providers": self.session.get_providers(),
            "precision": self.options.precision,
            "threads": so.intra_op_num_threads or None,
            "batch_size": self.options.batch_size,
            "model_file": str(self.path),
        }
