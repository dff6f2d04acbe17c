"""What makes each part of benchmarks/gpu_check.py `ok`: its own result, never only its child's exit code.

docs/gpu-results.md once showed `pytest_gpu | ok` beside "3 failed", and `power_monitor | ok` beside "NVML has no
GPU": a child that ran to the end had reported a failure, and the check called it a pass. Each verdict here reads
the part's result and says why it is not ok. Standard library only: the tests import it without a GPU.
"""

from __future__ import annotations

from itertools import pairwise


def cadence(rows: list[tuple], column: int, unit: str) -> dict:
    """How often a reading changes, and its mean and peak in its own unit: a power reading in W, an energy counter
    in J. An energy counter's largest value is joules since the driver loaded, never a wattage."""
    changes = [rows[i][0] for i in range(1, len(rows)) if rows[i][column] != rows[i - 1][column]]
    gaps = sorted(b - a for a, b in pairwise(changes))
    out = {"changes": len(changes), "median_ms_between_changes": round(1000 * gaps[len(gaps) // 2], 1) if gaps else None}
    values = [r[column] for r in rows if r[column] is not None]
    if unit == "W":
        out.update(mean_w=round(sum(values) / len(values), 1) if values else None, max_w=max(values) if values else None)
    elif unit == "J":  # power over the span from the counter's difference; its raw value is not a figure
        span = rows[-1][0] - rows[0][0] if len(rows) > 1 else 0.0
        joules = values[-1] - values[0] if len(values) > 1 else None
        out.update(joules=None if joules is None else round(joules, 3),
                   mean_w=round(joules / span, 1) if joules is not None and span > 0 else None)
    else:
        raise ValueError(f"unit {unit!r}: W or J")
    return out


def _pytest(r: dict) -> str | None:
    summary = str(r.get("summary", ""))
    if r.get("exit") != 0:
        return f"pytest exit {r.get('exit')}: {summary}"
    if r.get("failures") or any(w in summary for w in (" failed", " error")):
        return f"failures reported: {summary}"
    if " passed" not in summary:
        return f"no test passed: {summary or 'no summary'}"
    return None


def _scenarios(r: dict) -> str | None:
    """Every row ran: LoadGen gave a verdict (VALID or INVALID, both are results) and a rate; ERROR or skipped is not."""
    rows = r.get("rows") or []
    if not rows:
        return "no scenario row ran"
    missed = [f"{x.get('backend')} {x.get('scenario')}: {x.get('valid')} {x.get('device') or ''}".strip() for x in rows
              if x.get("valid") not in ("VALID", "INVALID") or x.get("samples/s") in (None, "-")]
    return f"{len(missed)} of {len(rows)} rows did not run: {'; '.join(missed)[:300]}" if missed else None


def _compile(r: dict) -> str | None:
    bad = [mode for mode, m in r.items() if not (isinstance(m, dict) and m.get("ok"))]
    return f"not ok: {', '.join(bad)}" if bad or not r else None


def _nvml(r: dict) -> str | None:
    usage = r.get("power_usage") or {}
    return None if r.get("reads") and usage.get("changes") else "NVML's power reading never changed (or was never read)"


def _monitor(r: dict) -> str | None:
    return None if r.get("monitor_sliced_avg_w") else f"no power figure: {r.get('reason') or 'none recorded'}"


def _first_second(r: dict) -> str | None:
    return None if r.get("cold_ms") and r.get("after_warmup_ms") else "no timings"


VERDICTS = {"pytest_gpu": _pytest, "scenarios": _scenarios, "compile_threads": _compile, "nvml_cadence": _nvml,
            "power_monitor": _monitor, "first_second": _first_second}


def verdict(name: str, result: dict) -> str | None:
    """None when the part's own result holds, else why not."""
    check = VERDICTS.get(name)
    return None if check is None else check(result)


def exit_code(result: dict, no_gpu: str | None) -> tuple[int, str]:
    """0 only when every part is ok; 2 (with the reason) when no GPU was checked; 1 when any part failed."""
    parts = result["parts"]
    failed = [n for n, p in parts.items() if p["status"] in ("failed", "partial")]
    if failed:
        return 1, f"failed: {', '.join(failed)}"
    if no_gpu:
        return 2, f"nothing was checked on a GPU: {no_gpu}"
    skipped = [n for n, p in parts.items() if p["status"] != "ok"]
    return (1, f"not ok: {', '.join(skipped)}") if skipped else (0, "every part ok")
