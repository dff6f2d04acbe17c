"""Lazy registry of backends: a name maps to an import path, imported only when that backend is used.

Third-party backends register through the `bench.backends` entry-point group with the same "module:Class" form
(docs/plugins.md). Each name remembers where it came from (built in, or a distribution and its version), so a
plugin that cannot be imported, or breaks the interface, is reported with its package name and never stops the
others.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points

from bench.backends.base import Availability, Backend, BackendOptions, Support, flag
from bench.errors import BackendUnavailable, BenchError, UsageError
from bench.system.devices import parse_cuda

GROUP = "bench.backends"  # the entry-point group a plugin distribution declares its backends in
REGISTRY: dict[str, str] = {
    "torch": "bench.backends.torch_backend:TorchBackend",
    "torch-compile": "bench.backends.torch_compile_backend:TorchCompileBackend",
    "onnxruntime": "bench.backends.onnxruntime_backend:OnnxRuntimeBackend",
    "openvino": "bench.backends.openvino_backend:OpenVinoBackend",
    "tensorrt": "bench.backends.tensorrt_backend:TensorRTBackend",
    "null": "bench.backends.null_backend:NullBackend",
    "remote": "bench.backends.remote_backend:RemoteBackend",
    "sim": "bench.backends.sim_backend:SimBackend",
}
# Tools for measuring the harness itself: runnable by name, left out of `bench backends`' default list.
HIDDEN = {"null", "sim"}


@dataclass(frozen=True)
class Entry:
    """One registered name: its "module:Class" and who ships it (no package: built in)."""

    target: str
    package: str = ""  # the distribution that declares the entry point
    version: str = ""

    @property
    def origin(self) -> str:
        return f"{self.package} {self.version}".strip() if self.package else "built-in"


def scan() -> tuple[dict[str, Entry], list[str]]:
    """Every backend name with where it comes from, and what was left out: a plugin may not take a built-in's
    name (or one an earlier plugin took), and is then ignored, with the reason, rather than run in its place."""
    found = {name: Entry(target) for name, target in REGISTRY.items()}
    ignored: list[str] = []
    try:
        points = list(entry_points(group=GROUP))
    except Exception as exc:  # noqa: BLE001 - broken metadata of one distribution must not hide the built-ins
        return found, [f"the installed packages' entry points cannot be read: {type(exc).__name__}: {exc}"]
    for ep in points:
        dist = getattr(ep, "dist", None)
        entry = Entry(ep.value, dist.name if dist else "an unnamed package", dist.version if dist else "")
        if ep.name in found:
            ignored.append(f"{ep.name} from {entry.origin} is ignored: the name is taken by the "
                           f"{found[ep.name].origin} backend; the plugin must register another name")
            continue
        found[ep.name] = entry
    return found, ignored


def entries() -> dict[str, Entry]:
    return scan()[0]


def names(include_hidden: bool = False) -> list[str]:
    return [n for n in entries() if include_hidden or n not in HIDDEN]


def label(name: str) -> str:
    """How messages name a backend: a plugin's with the package that ships it, whose vendor can fix it."""
    entry = entries().get(name)
    return f"{name} (from {entry.origin})" if entry and entry.package else name


def interface_problems(cls, name: str) -> list[str]:
    """How a registered class breaks the interface bench calls (backends/base.py); empty if it keeps it."""
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        return [f"{getattr(cls, '__name__', cls)!s} is not a subclass of bench.backends.base.Backend"]
    problems = []
    if missing := sorted(getattr(cls, "__abstractmethods__", ())):
        problems.append(f"{cls.__name__} does not implement {', '.join(missing)}")
    if not isinstance(inspect.getattr_static(cls, "probe", None), classmethod):
        problems.append(f"{cls.__name__}.probe must be a classmethod (it runs before any instance exists)")
    if cls.name != name:
        problems.append(f"{cls.__name__}.name is {cls.name!r}, but it is registered as {name!r}")
    return problems + declaration_problems(cls)


def declaration_problems(cls: type[Backend]) -> list[str]:
    """The base class's declaration (what it runs, where), which bench reads before any instance exists: a
    plugin's must have its shape, or the listing, the option checks and the refusals would fail on it."""
    supports = getattr(cls, "SUPPORTS", None)
    if not (isinstance(supports, Mapping) and supports and all(isinstance(k, str) for k in supports)):
        return [f"{cls.__name__}.SUPPORTS must be a non-empty mapping of device kinds to Support, not {supports!r}"]
    problems = []
    for kind, support in supports.items():
        if not isinstance(support, Support):
            problems.append(f"{cls.__name__}.SUPPORTS[{kind!r}] must be a Support, not {support!r}")
        elif not (isinstance(support.precisions, tuple) and support.precisions
                  and all(isinstance(p, str) for p in support.precisions)):
            problems.append(f"{cls.__name__}.SUPPORTS[{kind!r}].precisions must be a non-empty tuple of names")
    return problems


def backend_class(name: str) -> type[Backend]:
    entry = entries().get(name)
    if entry is None:
        raise UsageError(f"unknown backend {name!r}: choose one of {', '.join(names())}")
    fix = f"; reinstall or update {entry.package}, or uninstall it" if entry.package else ""
    module_name, _, class_name = entry.target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (Exception, SystemExit) as exc:  # a broken entry is reported, never fatal for the others
        raise BackendUnavailable(f"backend {label(name)} cannot be imported ({entry.target}): "
                                 f"{type(exc).__name__}: {exc}{fix}") from exc
    if problems := interface_problems(cls, name):
        raise BackendUnavailable(f"backend {label(name)} breaks the backend interface ({entry.target}): "
                                 f"{'; '.join(problems)} (docs/plugins.md){fix}")
    return cls


def classes() -> list[type[Backend]]:
    """Every registered backend that imports, in the registry's order (one that does not is left out here;
    `bench backends` and `--backend` report it)."""
    # Looked up once per registry state: each lookup reads the entry points again (~10 ms), and `bench run
    # --help` asks for every backend option.
    return list(_classes(tuple(names(include_hidden=True)), tuple(REGISTRY.items())))


@lru_cache(maxsize=8)
def _classes(registered: tuple[str, ...], _in_tree: tuple) -> tuple[type[Backend], ...]:
    found = []
    for name in registered:
        try:
            found.append(backend_class(name))
        except BenchError:
            continue
    return tuple(found)


def honoured() -> dict[str, tuple[str, ...]]:
    """Each backend option some backend declares -> the backends that honour it on some device, in the
    registry's order (the option table's "who honours it"), from one look at the registry."""
    found: dict[str, list[str]] = {}
    for cls in classes():
        for option in dict.fromkeys(o for s in cls.SUPPORTS.values() for o in s.options):
            found.setdefault(option, []).append(cls.name)
    return {option: tuple(names) for option, names in found.items()}


def honouring(option: str) -> tuple[str, ...]:
    """The backends that honour one backend option on some device."""
    return honoured().get(option, ())


def unhonoured(cls: type[Backend], names) -> BackendUnavailable | None:
    """The first of these backend options it honours on no device, refused naming the backends that do (whatever
    else is asked: this is the first thing a user must change). `create` and the sweep's plan check ask it."""
    for name in names:
        if not any(name in s.options for s in cls.SUPPORTS.values()):
            who = honouring(name)
            if not who:
                return BackendUnavailable(f"{flag(name)}: no installed backend honours it, so {cls.name} would "
                                          "ignore it: drop it. Nothing is ignored silently.")
            listed = who[0] if len(who) == 1 else f"{', '.join(who[:-1])} and {who[-1]}"
            return BackendUnavailable(f"{flag(name)} applies to the {listed} backend{'s' if len(who) > 1 else ''} "
                                      f"only, not {cls.name}: drop it, or use --backend {who[0]}. Nothing is ignored "
                                      "silently.")
    return None


def probe(name: str) -> Availability:
    """Whether `name` can run here; every failure, the backend's own included, is an answer, never a raise."""
    try:
        cls = backend_class(name)
    except BackendUnavailable as exc:
        return Availability(False, str(exc))
    info, entry = _probe(cls), entries()[name]
    if not info.available and entry.package and entry.package not in info.reason:
        info = dataclasses.replace(info, reason=f"{info.reason} (backend from {entry.origin})")
    return info


def _probe(cls: type[Backend]) -> Availability:
    try:
        info = cls.probe()
    except Exception as exc:  # noqa: BLE001 - one backend's probe must not end the listing of the others
        return Availability(False, f"probe failed: {type(exc).__name__}: {exc}")
    if not isinstance(info, Availability):
        return Availability(False, f"probe() returned {type(info).__name__}, not a backends.base.Availability")
    return info


def describe(backend: Backend) -> dict:
    """`backend.describe()` for the record, checked: a backend that raises or answers something other than a dict
    stops the run before anything is timed, named with the package that ships it."""
    try:
        described = backend.describe()
    except Exception as exc:  # noqa: BLE001 - reported with the backend's origin, exit 2
        raise BackendUnavailable(f"backend {label(backend.name)}: describe() raised {type(exc).__name__}: {exc}; "
                                 "the record cannot say what ran, so nothing is timed") from exc
    if not isinstance(described, dict):
        raise BackendUnavailable(f"backend {label(backend.name)}: describe() returned {type(described).__name__}, "
                                 "not a dict; the record cannot say what ran, so nothing is timed")
    return described


def create(name: str, options: BackendOptions) -> Backend:
    """An instance ready to `load`, after checking that it can honour the options here."""
    cls = backend_class(name)
    availability = _probe(cls)
    if not availability.available:
        raise BackendUnavailable(f"backend {label(name)} is not available: {availability.reason}")
    refused = unhonoured(cls, options.set_options())
    if refused is not None:
        raise refused
    cls.check_options(options)
    kind = options.device.split(":")[0]
    if kind != "cpu" and not any(d.startswith(kind) for d in availability.devices):
        raise BackendUnavailable(
            f"--device {options.device} asked for, but backend {label(name)} sees no such device here "
            f"(it sees: {', '.join(availability.devices) or 'none'}). Nothing was run on the CPU instead."
        )
    cuda = parse_cuda(options.device)
    if cuda is not None:  # every GPU named must exist; several GPUs get one backend instance each
        gpus = cuda.resolve(sum(d.startswith("cuda") for d in availability.devices))
        if cuda.multi:
            from bench.backends.multi_device import MultiDeviceBackend

            return MultiDeviceBackend(cls, [f"cuda:{i}" for i in gpus])
    return cls()


__all__ = ["Availability", "Backend", "BackendOptions", "Entry", "GROUP", "REGISTRY", "backend_class", "create",
           "declaration_problems", "describe", "entries", "interface_problems", "label", "names", "probe", "scan"]
