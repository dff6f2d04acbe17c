"""Model specs: which network, which weights, which preprocessing; building it in torch and exporting ONNX."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from bench.cache import atomic_write, cache_dir, file_sha256
from bench.errors import UsageError

RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
MODELS = RESNETS
ONNX_OPSET = 17


@dataclass(frozen=True)
class ModelSpec:
    name: str
    weights: str = "synthetic"  # "synthetic" or a checkpoint path
    onnx: str | None = None  # a user's ONNX classifier, used as it is
    preprocessing: str = "torchvision"
    num_classes: int = 1000
    input_size: int = 224
    seed: int = 0
    reference_top1: float | None = None

    @property
    def synthetic(self) -> bool:
        return self.onnx is None and self.weights == "synthetic"

    @cached_property
    def weights_id(self) -> str:
        """Identifies the weights in cache keys and the result record."""
        if self.onnx is not None:
            return "onnx-" + file_sha256(self.onnx)[:16]
        if self.synthetic:
            return f"synthetic-seed{self.seed}"
        return "sha256-" + file_sha256(self.weights)[:16]

    def describe(self) -> dict:
        return {
            "name": self.name,
            "weights": self.weights if self.onnx is None else None,
            "onnx": self.onnx,
            "weights_id": self.weights_id,
            "synthetic_weights": self.synthetic,
            "preprocessing": self.preprocessing,
            "num_classes": self.num_classes,
            "input_shape": [3, self.input_size, self.input_size],
            "reference_top1": self.reference_top1,
        }


def resolve(name: str, weights: str = "synthetic", onnx: str | None = None, seed: int = 0) -> ModelSpec:
    if name not in MODELS:
        raise UsageError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    if onnx is not None and not Path(onnx).is_file():
        raise UsageError(f"ONNX model {onnx} does not exist: give the path of an .onnx file")
    if weights != "synthetic" and not Path(weights).is_file():
        raise UsageError(f"weights file {weights} does not exist: give a checkpoint path or --weights synthetic")
    return ModelSpec(name=name, weights=weights, onnx=onnx, seed=seed)


def _require_torch(why: str) -> None:
    if importlib.util.find_spec("torch") is None:
        raise UsageError(f"{why} needs PyTorch: pip install 'bench[torch]'")


def build_torch(spec: ModelSpec):
    """The model as a torch nn.Module in eval mode, with the spec's weights."""
    _require_torch(f"building {spec.name} in PyTorch")
    import torch

    from bench.models import resnet

    if spec.onnx is not None:
        raise UsageError(
            f"--onnx {spec.onnx}: this backend runs PyTorch models and cannot run an ONNX file; "
            "use --backend onnxruntime (or openvino, tensorrt), or pass --weights instead"
        )
    torch.manual_seed(spec.seed)
    model = resnet.build(spec.name, spec.num_classes)
    if not spec.synthetic:
        model.load_state_dict(_load_state_dict(spec.weights))
    return model.eval()


def _load_state_dict(path: str) -> dict:
    import torch

    try:
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file

            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UsageError(f"cannot load weights {path}: {type(exc).__name__}: {exc}")
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    return state


def onnx_file(spec: ModelSpec, opset: int = ONNX_OPSET) -> Path:
    """The user's ONNX file, or an export of the spec cached by model, weights and opset."""
    if spec.onnx is not None:
        return Path(spec.onnx)
    path = cache_dir("onnx") / f"{spec.name}-{spec.weights_id}-opset{opset}.onnx"
    if not path.exists():
        _export(spec, path, opset)
    return path


def _export(spec: ModelSpec, path: Path, opset: int) -> None:
    _require_torch(f"exporting {spec.name} to ONNX (or pass --onnx FILE)")
    import io

    import torch

    model = build_torch(spec)
    example = torch.zeros(1, 3, spec.input_size, spec.input_size)
    buffer = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(
            model, example, buffer, dynamo=False, opset_version=opset,
            input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        )
    atomic_write(path, buffer.getvalue())  # a crash mid-export leaves no half file to be reused
