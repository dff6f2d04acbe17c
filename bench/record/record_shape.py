"""What a result.json may hold, both ways: strict JSON out (no NaN/Infinity), a checked shape and clean text in.

Readers (`bench report`, `bench compare`, `bench submission`) trust a record only after `problem()` finds
nothing wrong with it, and show its text only after `clean()` took out control characters: a record copied
from elsewhere must not stop a report of a hundred others, nor move the cursor or recolour a terminal.
"""

from __future__ import annotations

import json
import math
import re

# Sections of a record: each an object, or null when that part did not run.
SECTIONS = ("config", "model", "dataset", "backend", "system", "timing", "performance", "accuracy", "power",
            "process")
TEXT = (str, type(None))
NUMBER = (int, float, type(None))
# Fields readers format or sort on, and the types they must have (bool is not a number here).
FIELDS: dict[str, tuple] = {
    "run_id": (str,), "status": (str,), "started_at": TEXT, "finished_at": TEXT, "error": TEXT, "run_dir": TEXT,
    **{f"config.{k}": TEXT for k in ("backend", "scenario", "model", "precision", "device", "system_name",
                                     "profile", "mode")},
    **{f"config.{k}": (int, type(None)) for k in ("batch_size", "threads", "count")},
    **{f"backend.{k}": TEXT for k in ("device", "precision")},
    "backend.threads": (int, type(None)),
    "model.name": TEXT,
    **{f"performance.{k}": NUMBER for k in ("samples_per_second", "samples", "duration_s", "target_qps", "queries")},
    "performance.valid": (bool, type(None)),
    "performance.invalid_reasons": (list, type(None)),
    "performance.latency_ms": (dict, type(None)),
    "performance.result_metric": (dict, type(None)),
    "accuracy.top1": NUMBER, "accuracy.verdict": TEXT, "accuracy.count": NUMBER,
    **{f"power.{k}": NUMBER for k in ("avg_watts", "max_watts", "energy_j", "joules_per_sample",
                                      "samples_per_second_per_watt")},
    "system.gpus": (list, type(None)),
    **{f"system.{k}": TEXT for k in ("system_name", "cpu", "os", "os_name", "python")},
}
# C0 and C1 controls (escape sequences start with ESC or CSI), DEL, and bidi overrides that reorder shown text.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def _get(record: dict, dotted: str):
    value = record
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def problem(record) -> str | None:
    """What is wrong with a parsed record's shape, in a few words; None when readers can trust it."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not an object"
    for section in SECTIONS:
        if not isinstance(record.get(section), (dict, type(None))):
            return f"{section!r} is a {type(record[section]).__name__}, not an object"
    for field, types in FIELDS.items():
        value = _get(record, field)
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            return f"{field!r} is {type(value).__name__} {str(value)[:40]!r}, expected {_names(types)}"
    latency = _get(record, "performance.latency_ms") or {}
    bad = [k for k, v in latency.items() if not isinstance(v, NUMBER) or isinstance(v, bool)]
    if bad:
        return f"'performance.latency_ms.{bad[0]}' is not a number"
    secondary = _get(record, "performance.secondary")
    if not isinstance(secondary, (list, type(None))):
        return "'performance.secondary' is not a list"
    figures = [("performance.result_metric", _get(record, "performance.result_metric"))]
    figures += [(f"performance.secondary[{i}]", f) for i, f in enumerate(secondary or [])]
    for field, figure in figures:
        if figure is not None and (why := _figure_problem(figure)):
            return f"'{field}' {why}"
    if not all(isinstance(r, str) for r in _get(record, "performance.invalid_reasons") or []):
        return "'performance.invalid_reasons' holds something other than text"
    return None


def _figure_problem(figure) -> str | None:
    """A headline or secondary figure: text key/name/unit (schema 1 had only a name), a numeric value or null."""
    if not isinstance(figure, dict):
        return "is not an object"
    value = figure.get("value")
    if not isinstance(value, NUMBER) or isinstance(value, bool):
        return "value is not a number"
    for key in ("key", "name", "unit"):
        if not isinstance(figure.get(key), TEXT):
            return f"{key} is not text"
    if not isinstance(figure.get("higher_is_better"), (bool, type(None))):
        return "higher_is_better is not true or false"
    return None


def _names(types: tuple) -> str:
    return " or ".join("null" if t is type(None) else {"str": "text", "int": "an integer", "float": "a number",
                                                       "dict": "an object", "list": "a list"}.get(t.__name__, t.__name__)
                       for t in types)


def clean(value):
    """The record with control characters taken out of every string (keys too)."""
    if isinstance(value, str):
        return CONTROL.sub("", value)
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


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


def dumps(record: dict) -> str:
    """Strict JSON (any reader parses it): non-finite numbers become null, and `nonfinite` names where they were."""
    found: list[str] = []
    out = finite(record, "", found)
    if found:
        out["nonfinite"] = sorted(set(out.get("nonfinite") or []) | set(found))
    return json.dumps(out, indent=2, allow_nan=False, default=str) + "\n"


def loads(text: str):
    """Parse a record; a NaN or Infinity an older writer left reads as null."""
    return json.loads(text, parse_constant=lambda name: None)
