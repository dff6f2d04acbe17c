"""PyTorch eager backend: CPU, and CUDA when asked and present."""

from __future__ import annotations

import importlib.util

import numpy as np

from backends.base import Availability, Backend, BackendOptions
from backends.precision import require_native_bf16
from bench.errors import BackendUnavailable


class TorchBackend(Backend):
    name = "torch"
    extra = "torch"
    precisions = ("fp32", "bf16", "fp16")
    devices = ("cpu", "cuda")

    @classmethod
    def probe(cls) -> Availability:
        if importlib.util.find_spec("torch") is None:
            return Availability(False, f"PyTorch is not installed: pip install 'bench[{cls.extra}]'")
        import torch

        devices = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else ["cpu"]
        return Availability(True, version=torch.__version__, devices=devices)

    @classmethod
    def check_options(cls, options: BackendOptions) -> None:
        super().check_options(options)
        if options.precision == "fp16" and not options.device.startswith("cuda"):
            raise BackendUnavailable(
                f"backend {cls.name} runs fp16 only on CUDA devices; on the CPU it supports: fp32, and bf16 where the CPU has it natively"
            )
        if options.precision == "bf16" and not options.device.startswith("cuda"):
            require_native_bf16(cls.name, ("fp32",))

    def load(self, model, options: BackendOptions) -> None:
        import torch

        from bench.models import build_torch

        self.options = options
        if options.threads:
            torch.set_num_threads(options.threads)
        self.device = torch.device(options.device)
        # bf16: weights and activations converted once (.to), so oneDNN runs bf16 (AMX/AVX-512 BF16) kernels.
        self.dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(options.precision, torch.float32)
        self.model = build_torch(model).to(self.device, self.dtype)
        self.torch = torch

    def _forward(self, batch: np.ndarray):
        torch = self.torch
        with torch.inference_mode():
            x = torch.from_numpy(batch).to(self.device, self.dtype, non_blocking=True)
            return self.model(x)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        from backends.base import argmax_classes

        out = self._forward(batch)
        return argmax_classes(out.float().cpu().numpy()) if out.shape[1] == 1001 else out.argmax(1).cpu().numpy()

    def logits(self, batch: np.ndarray) -> np.ndarray:
        return self._forward(batch).float().cpu().numpy()

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            self.torch.cuda.synchronize(self.device)

    def describe(self) -> dict:
        torch = self.torch
        info = {
            "name": self.name,
            "version": torch.__version__,
            "device": str(self.device),
            "precision": self.options.precision,
            "threads": torch.get_num_threads(),
            "batch_size": self.options.batch_size,
        }
        if self.device.type == "cuda":
            info["gpu"] = torch.cuda.get_device_name(self.device)
            info["cuda"] = torch.version.cuda
        return info
