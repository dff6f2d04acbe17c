"""The declaration's types: what a backend supports on a device kind (`Support`) and what a precision needs
besides (`Need`). A leaf: the base class, the shared needs (backends/precision.py) and every backend import it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Input forms: "model" is a bench model (--model/--weights), built or exported for the runtime; "onnx" is an
# --onnx file taken as it is.
INPUT_FORMS = ("model", "onnx")


@dataclass(frozen=True)
class Need:
    """What a precision needs besides the backend: native bf16, a calibration set (the shared ones are
    backends/precision.py's NEEDS, named by key), or a backend's own (onnxruntime's TensorRT provider for fp16)."""

    check: Callable[[Any], str | None]  # why this run (its BackendOptions) cannot have it, or None
    here: Callable[[], str | None]  # why this machine never can (for `bench backends`), or None
    label: str  # what it needs, as `bench backends` and a refusal say it


@dataclass(frozen=True)
class Support:
    """What a backend runs on one device kind: precisions, backend options (bench/config/run_config.py names) and
    input forms, and what a precision needs besides (a key of backends/precision.py's NEEDS, or a Need)."""

    precisions: tuple[str, ...] = ("fp32",)
    options: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ("model",)
    needs: Mapping[str, str | Need] = field(default_factory=dict)  # {"bf16": "native_bf16", "int8": "calibration"}


def device_kind(device: str) -> str:
    """`cuda:0,1` -> cuda, `gpu.0` (OpenVINO's spelling) -> gpu."""
    return device.split(":")[0].split(".")[0].lower()
