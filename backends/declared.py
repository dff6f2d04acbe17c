"""What the registered backends declare, read across all of them: who honours an option, who takes an input form,
which packages a record lists, and what `bench backends` shows. Nothing here names a backend: adding one is its
module and its registry line.
"""

from __future__ import annotations

from functools import lru_cache

from backends import REGISTRY, backend_class, names
from backends.base import Backend, device_kind
from bench.errors import BenchError


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


def taking(form: str) -> tuple[str, ...]:
    """The backends that take an input form ("onnx": an --onnx file as it is) on some device."""
    return tuple(c.name for c in classes() if any(form in s.inputs for s in c.SUPPORTS.values()))


def packages() -> tuple[str, ...]:
    """The distributions the backends ask a record to list, each once, in the registry's order."""
    return tuple(dict.fromkeys(p for c in classes() for p in c.packages))


def precisions_listing(cls: type[Backend], devices: list[str]) -> tuple[str, str]:
    """(what can run here, what needs something else) for `bench backends`: the precisions of the device kinds
    present here whose needs this machine meets, then the rest, each with what it needs (a device kind or a
    CPU flag)."""
    kinds = [k for k in dict.fromkeys(device_kind(d) for d in devices) if k in cls.SUPPORTS]
    here = list(dict.fromkeys(p for k in kinds for p in cls.precisions_here(k)))
    wanting: dict[str, list[str]] = {}  # what is needed -> the precisions that need it
    for kind in kinds:  # declared on a device here, but this machine lacks what the precision needs
        support = cls.SUPPORTS[kind]
        for p in support.precisions:
            need = support.need(p)
            if p not in here and need is not None:
                wanting.setdefault(need.label, []).append(p)
    waiting = {p for ps in wanting.values() for p in ps}
    devices_for: dict[str, list[str]] = {}  # declared only on device kinds absent here
    for kind, support in cls.SUPPORTS.items():
        for p in support.precisions:
            if p not in here and p not in waiting:
                devices_for.setdefault(p, []).append(kind)
    for p, ks in devices_for.items():
        wanting.setdefault("--device " + " or ".join(ks), []).append(p)
    elsewhere = "; ".join(f"{', '.join(dict.fromkeys(ps))}: {what}" for what, ps in wanting.items())
    return ", ".join(here), elsewhere
