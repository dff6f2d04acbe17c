"""Lazy registry of backends: a name maps to an import path, imported only when that backend is used.

Third-party backends register through the `bench.backends` entry-point group with the same
"module:Class" form.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from backends.base import Availability, Backend, BackendOptions
from bench.errors import BackendUnavailable, UsageError
from bench.run.devices import parse_cuda

REGISTRY: dict[str, str] = {
    "torch": "backends.torch_backend:TorchBackend",
    "torch-compile": "backends.torch_compile_backend:TorchCompileBackend",
    "onnxruntime": "backends.onnxruntime_backend:OnnxRuntimeBackend",
    "openvino": "backends.openvino_backend:OpenVinoBackend",
    "tensorrt": "backends.tensorrt_backend:TensorRTBackend",
    "null": "backends.null_backend:NullBackend",
    "sim": "backends.sim_backend:SimBackend",
}
# Tools for measuring the harness itself: runnable by name, left out of `bench backends`' default list.
HIDDEN = {"null", "sim"}


def names(include_hidden: bool = False) -> list[str]:
    registry = _all()
    return [n for n in registry if include_hidden or n not in HIDDEN]


def _all() -> dict[str, str]:
    registry = dict(REGISTRY)
    for ep in entry_points(group="bench.backends"):
        registry.setdefault(ep.name, ep.value)
    return registry


def backend_class(name: str) -> type[Backend]:
    registry = _all()
    if name not in registry:
        raise UsageError(f"unknown backend {name!r}: choose one of {', '.join(names())}")
    module_name, _, class_name = registry[name].partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, class_name)
    except Exception as exc:  # an entry whose module is broken is reported, never fatal for the others
        raise BackendUnavailable(f"backend {name} cannot be imported ({module_name}): {type(exc).__name__}: {exc}")


def probe(name: str) -> Availability:
    try:
        cls = backend_class(name)
    except BackendUnavailable as exc:
        return Availability(False, str(exc))
    try:
        return cls.probe()
    except Exception as exc:
        return Availability(False, f"probe failed: {type(exc).__name__}: {exc}")


def create(name: str, options: BackendOptions) -> Backend:
    """An instance ready to `load`, after checking that it can honour the options here."""
    cls = backend_class(name)
    availability = cls.probe()
    if not availability.available:
        raise BackendUnavailable(f"backend {name} is not available: {availability.reason}")
    cls.check_options(options)
    kind = options.device.split(":")[0]
    if kind != "cpu" and not any(d.startswith(kind) for d in availability.devices):
        raise BackendUnavailable(
            f"--device {options.device} asked for, but backend {name} sees no such device here "
            f"(it sees: {', '.join(availability.devices) or 'none'}). Nothing was run on the CPU instead."
        )
    cuda = parse_cuda(options.device)
    if cuda is not None:  # every GPU named must exist; several GPUs get one backend instance each
        gpus = cuda.resolve(sum(d.startswith("cuda") for d in availability.devices))
        if cuda.multi:
            from backends.multi_device import MultiDeviceBackend

            return MultiDeviceBackend(cls, [f"cuda:{i}" for i in gpus])
    return cls()


__all__ = ["Availability", "Backend", "BackendOptions", "REGISTRY", "backend_class", "create", "names", "probe"]
