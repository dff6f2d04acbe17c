"""result.json both ways, beside its declaration (bench/record/schema.py): strict JSON out, a bounded and typed read in.

Out: the dataclasses as the dict records were, key for key and in the same order, NaN and Infinity as null (listed
in `nonfinite`). In: a regular file only, at most MAX_BYTES, parsed with every non-finite number (NaN, Infinity,
1e999) as null, then each declared field checked against its type: a record of the wrong shape is refused in one
line naming the field, never an AttributeError or KeyError in whatever reads it next.

No library does this here: the project has no pydantic or cattrs, and the conversion below covers the few type
forms schema.py uses (dataclasses, TypedDicts, X | None, list, dict, Literal, Any and the scalars).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import stat
import types
import typing
from functools import cache
from pathlib import Path

from bench.record import schema

# A record is a few kilobytes (a multi-GPU power section tens); 16 MiB leaves room and never lets a 200 MB file (or
# /dev/zero) be read into memory. Checked on the open file before a byte is read.
MAX_BYTES = 16 * 1024 * 1024
# C0 and C1 controls (escape sequences start with ESC or CSI), DEL, and bidi overrides that reorder shown text.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


class Wrong(ValueError):
    """A record of the wrong shape: the message names the field, e.g. "'config.batch_size' is text ('8'), ...". """

    def __init__(self, message: str, where: str = ""):
        super().__init__(message)
        self.where = where


# ---- out -------------------------------------------------------------------------------------------------------

def as_json(value):
    """A section (or anything holding sections) as the plain JSON values result.json holds."""
    if isinstance(value, schema.Section):
        out = {}
        for f in dataclasses.fields(value):
            if f.metadata.get("internal"):
                continue
            v = getattr(value, f.name)
            # Left out while unset: a `later` field, or one the record this was read from did not have (an older
            # writer's record is written back as it was).
            if (v is None and f.metadata.get("later")) or \
                    (value.read_order and f.name not in value.read_order and _is_default(f, v)):
                continue
            out[f.name] = as_json(v)
        out.update((k, as_json(v)) for k, v in value.extra_keys.items())
        if value.read_order:  # as its writer ordered it; keys set since come after, in declared order
            rank = {k: i for i, k in enumerate(value.read_order)}
            out = dict(sorted(out.items(), key=lambda kv: rank.get(kv[0], len(rank))))
        return out
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    return value


def _is_default(f: dataclasses.Field, value) -> bool:
    if f.default_factory is not dataclasses.MISSING:
        return value == f.default_factory()
    return f.default is not dataclasses.MISSING and value == f.default


def finite(value, where: str = "", found: list | None = None):
    """The record with NaN and +-Infinity as null (JSON has no such numbers); their places listed in `found`."""
    if hasattr(value, "item") and not isinstance(value, (dict, list, str)):  # numpy scalars
        try:
            value = value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, float) and not math.isfinite(value):
        if found is not None:
            found.append(where or "(top)")
        return None
    if isinstance(value, dict):
        return {k: finite(v, f"{where}.{k}" if where else str(k), found) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v, f"{where}[{i}]", found) for i, v in enumerate(value)]
    return value


def dumps(record: schema.Record | dict) -> str:
    """Strict JSON (any reader parses it): non-finite numbers become null, and `nonfinite` names where they were."""
    found: list[str] = []
    out = finite(as_json(record), "", found)
    if found:
        out["nonfinite"] = sorted(set(out.get("nonfinite") or []) | set(found))
    return json.dumps(out, indent=2, allow_nan=False, default=str) + "\n"


# ---- in --------------------------------------------------------------------------------------------------------

def read_bounded(path: Path, limit: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; OSError (a FIFO, a device, too large) otherwise.

    O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer; the type and size are then checked
    on the open descriptor (what is read), not on the name (which may change in between)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"not a regular file ({_kind(info.st_mode)}): only a regular result.json is read")
        if info.st_size > limit:
            raise OSError(f"{info.st_size:,} bytes, over the {limit:,}-byte limit for a result record")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)  # a file that grew since fstat still stops here
        if len(data) > limit:
            raise OSError(f"over the {limit:,}-byte limit for a result record")
        return data
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    return next((name for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                                         (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                                         (stat.S_ISDIR, "a directory")) if test(mode)), "not a file")


def _finite_float(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None  # 1e999 is as non-finite as the Infinity literal


def loads(text: str | bytes):
    """Parse JSON with every non-finite number (NaN, Infinity, -Infinity, 1e999) as null."""
    return json.loads(text, parse_constant=lambda name: None, parse_float=_finite_float)


def parse(cls, value, where: str = ""):
    """`value` (parsed JSON) as the declared type `cls`; Wrong naming the field where it does not fit."""
    return _converter(cls)(value, where)


@cache
def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


@cache
def _converter(tp):
    """A function (value, where) -> value for the declared type `tp`, built once per type: reading a record then
    costs one call per value, not a walk through typing's introspection."""
    if tp is typing.Any:
        return lambda value, where: value
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        options = [_converter(a) for a in args if a is not type(None)]
        nullable = type(None) in args

        def union(value, where):
            if value is None:
                return None if nullable else _wrong(tp, value, where)
            for option in options:
                try:
                    return option(value, where)
                except Wrong as exc:
                    if len(options) == 1 and exc.where != where:  # wrong further in: that field's message
                        raise
            return _wrong(tp, value, where)  # wrong here: the message says what would do (null too)
        return union
    if origin is typing.Literal:
        return lambda value, where: value if isinstance(value, str) and value in args else _wrong(tp, value, where)
    if origin is list:
        item = _converter(args[0])
        return lambda value, where: ([item(v, f"{where}[{i}]") for i, v in enumerate(value)]
                                     if isinstance(value, list) else _wrong(tp, value, where))
    if origin is dict:
        item = _converter(args[1])
        return lambda value, where: ({k: item(v, f"{where}.{k}") for k, v in value.items()}
                                     if isinstance(value, dict) else _wrong(tp, value, where))
    if isinstance(tp, type) and issubclass(tp, schema.Section):
        return lambda value, where: _section(tp, value, where)
    if typing.is_typeddict(tp):
        keys = {k: _converter(t) for k, t in _hints(tp).items()}
        return lambda value, where: ({k: keys[k](v, f"{where}.{k}") if k in keys else v for k, v in value.items()}
                                     if isinstance(value, dict) else _wrong(tp, value, where))
    if tp is float:  # an int stays an int: the same bytes out
        return lambda value, where: (value if isinstance(value, (int, float)) and not isinstance(value, bool)
                                     else _wrong(tp, value, where))
    if tp is int:
        return lambda value, where: (value if isinstance(value, int) and not isinstance(value, bool)
                                     else _wrong(tp, value, where))
    return lambda value, where: value if isinstance(value, tp) else _wrong(tp, value, where)


@cache
def _fields(cls) -> tuple:
    """(name, converter, required, init) per declared field of a section."""
    hints = _hints(cls)
    return tuple((f.name, _converter(hints[f.name]), bool(f.metadata.get("required")), f.init)
                 for f in dataclasses.fields(cls) if not f.metadata.get("internal"))


def _section(cls, value, where: str):
    if not isinstance(value, dict):
        return _wrong(cls, value, where)
    given, declared = {}, set()
    for name, convert, required, init in _fields(cls):
        declared.add(name)
        if name in value:
            if init:
                given[name] = convert(value[name], f"{where}.{name}" if where else name)
        elif required:
            at = f"{where}.{name}" if where else name
            raise Wrong(f"lacks {at!r}", at)
    section = cls(**given)
    section.extra_keys = {k: v for k, v in value.items() if k not in declared}
    section.read_order = tuple(value)
    return section


def _wrong(tp, value, where: str):
    shown = CONTROL.sub("", repr(value))[:40]
    raise Wrong(f"{where or 'the record'!r} is {_name(type(value))} ({shown}), expected {describe(tp)}", where)


def _name(t) -> str:
    return {str: "text", int: "an integer", float: "a number", bool: "true or false", list: "a list",
            dict: "an object", type(None): "null"}.get(t, getattr(t, "__name__", str(t)))


def describe(tp) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(map(repr, args))
    if origin in (list, dict):
        return _name(origin)
    if isinstance(tp, type) and (issubclass(tp, schema.Section) or typing.is_typeddict(tp)):
        return "an object"
    return _name(tp)


def clean(value):
    """The value with control characters taken out of every string (keys too): shown text never moves the cursor."""
    if isinstance(value, str):
        return CONTROL.sub("", value)
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value
