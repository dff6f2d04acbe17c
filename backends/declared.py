"""What the registered backends declare, read across all of them: who takes an input form, which packages a record
lists, and what `bench backends` shows (who honours an option is the registry's: backends.honoured). Nothing
here names a backend: adding one is its module and its registry line.
"""

from __future__ import annotations

from bench.backends import classes
from bench.backends.base import Backend, need_of
from bench.backends.support import device_kind


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
            need = need_of(support, p)
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
