"""docs/record-fields.md, generated from bench/record/schema.py (`python -m bench.record.fields_doc`).

tests/test_record_schema.py fails when the page and the declaration differ, so the table can never go stale.
"""

from __future__ import annotations

import dataclasses
import types
import typing

from bench.record import codec, schema

HEAD = """# Every field of the result record (`result.json`)

Each run gets `<output>/<run-id>/` holding `result.json` (written atomically, strict JSON: NaN and Infinity are
written as null and listed in `nonfinite`) and LoadGen's logs. Every field below is declared in
`bench/record/schema.py`; readers (`bench report`, `bench compare`, `bench submission`, a sweep's resume) read a
record through `bench/record/codec.py`, which refuses, in one line naming the file and the field, a record whose
field has another type, a file that is not a regular file, or one over {limit} MiB. Keys may be added; renaming or
removing one bumps `schema` (now {schema}; schema-1 records still read, their metric named "(schema 1)").
"Written once set": the key is absent until it holds a value. Sections marked *mapping* are what another part of
bench describes (a backend's `describe()`, the model's spec): their other keys are kept as written.

"""


def _inner(tp):
    """X | None -> X; list[X] -> X (the type whose fields are listed below a field)."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1:
        tp = args[0]
    if typing.get_origin(tp) is list:
        tp = typing.get_args(tp)[0]
    return tp


def _doc(tp) -> str:
    return " ".join((tp.__doc__ or "").split("\n\n")[0].split()) if isinstance(tp, type) else ""


def rows(cls, prefix: str = ""):
    hints = typing.get_type_hints(cls)
    if typing.is_typeddict(cls):
        for name, tp in hints.items():
            yield f"{prefix}{name}", codec.describe(tp), ""
        return
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        tp, inner = hints[f.name], _inner(hints[f.name])
        path = prefix + f.name + ("[]" if typing.get_origin(_inner_optional(tp)) is list else "")
        nested = isinstance(inner, type) and (issubclass(inner, schema.Section) or typing.is_typeddict(inner))
        kind = codec.describe(tp) + (" (*mapping*)" if nested and typing.is_typeddict(inner) else "")
        doc = f.metadata.get("doc") or (_doc(inner) if nested else "")
        if f.metadata.get("later"):
            doc = (doc.rstrip(".") + "; " if doc else "") + "written once set"
        if f.metadata.get("required"):
            doc = (doc.rstrip(".") + "; " if doc else "") + "required"
        yield path, kind, doc
        if nested:
            yield from rows(inner, path + ".")


def _inner_optional(tp):
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return args[0] if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1 \
        else tp


def table() -> str:
    lines = ["| field | type | what |", "|---|---|---|"]
    lines += [f"| `{path}` | {kind} | {doc.replace('|', '/')} |" for path, kind, doc in rows(schema.Record)]
    return "\n".join(lines) + "\n"


def page() -> str:
    return HEAD.format(limit=codec.MAX_BYTES // 2**20, schema=schema.SCHEMA) + table()


if __name__ == "__main__":
    print(page(), end="")
