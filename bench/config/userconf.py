"""Reading LoadGen user.conf files: which settings a file names, so the profile's defaults leave them alone."""

from __future__ import annotations

import math
import re
from pathlib import Path

from bench.errors import UsageError
from bench.scenarios import SCENARIOS as ALL_SCENARIOS

# LoadGen splits each line on ASCII whitespace and reads `model.Scenario.key = value` only: `key=value` without
# spaces is silently ignored, `#word` or a trailing `# comment` is an error, and the value must be a whole C number
# (strtoul/strtod). `parse` refuses anything LoadGen would ignore or reject, so what the file says is what runs.
KEY = re.compile(r"^([\w*.-]+)\.([\w*]+)\.(\w+)$", re.ASCII)
NUMBER = re.compile(r"^[+-]?(0x[0-9a-f]+|(\d+\.?\d*|\.\d+)(e[+-]?\d+)?|inf(inity)?|nan)$", re.ASCII | re.IGNORECASE)
SPACE = re.compile(r"[ \t\r\f\v]+")  # C's isspace: what LoadGen's `iss >> token` skips
SCENARIOS = ("*", *(s.loadgen_name for s in ALL_SCENARIOS.values()))
EXAMPLE = "for example 'resnet50.Offline.target_qps = 100'"


def parse(text: str, source: str = "user.conf") -> list[tuple[str, str, str, str]]:
    """(model, scenario, key, value) for each setting line; a line LoadGen would ignore or misread is an error."""
    entries = []
    for number, line in enumerate(text.split("\n"), 1):  # LoadGen's getline splits on \n only
        tokens = SPACE.split(line.strip(" \t\r\f\v"))
        if tokens == [""] or tokens[0] == "#":
            continue
        where = f"{source}:{number}: cannot read {line.strip()[:80]!r}"
        if tokens[0].startswith("#"):
            raise UsageError(f"{where}: put a space after '#' (LoadGen reads '#word' as a setting)")
        if len(tokens) != 3 or tokens[1] != "=":
            raise UsageError(f"{where}: expected 'model.Scenario.key = value' with spaces around '=' and nothing after "
                             f"the value (comments go on their own line), {EXAMPLE}")
        key, _, value = tokens
        match = KEY.match(key)
        if match is None:
            raise UsageError(f"{where}: the key must be model.Scenario.key, {EXAMPLE}")
        if match.group(2) not in SCENARIOS:
            raise UsageError(f"{where}: LoadGen knows no scenario {match.group(2)!r} (it would ignore the line): "
                             f"use one of {', '.join(SCENARIOS)}")
        if not NUMBER.match(value):
            raise UsageError(f"{where}: the value {value!r} is not a number, {EXAMPLE}")
        if (wrong := check_value(match.group(2), match.group(3), value)) is not None:
            raise UsageError(f"{where}: {wrong}")
        entries.append((*match.groups(), value))
    return entries


# What LoadGen does with each key's value, found by experiment (tests/test_userconf.py runs LoadGen in a child
# process): whole-number keys go through strtoull, so `-1` wraps to 2^64-1, `1e3` reads as 1, `1.5` as 1, `nan`
# as 0 and 23 digits as 2^64-1, and then a run asks for years or exabytes (or crashes); real-number keys take
# anything strtod reads, `inf`, `nan` and negatives included. Each key has a range, checked before LoadGen sees it.
DAY_MS = 86_400_000
WHOLE = {  # key: (lowest, highest, why the bound)
    "min_duration": (0, 100 * DAY_MS, "milliseconds, at most 100 days"),
    "max_duration": (0, 100 * DAY_MS, "milliseconds, at most 100 days (0: no limit)"),
    "min_query_count": (0, 10**9, "queries; past 1e9 LoadGen's bookkeeping alone needs 400 GB"),
    "max_query_count": (0, 10**9, "queries (0: no limit); past 1e9 LoadGen's bookkeeping alone needs 400 GB"),
    "performance_sample_count_override": (0, 10**9, "samples (0: the dataset's own count)"),
    "samples_per_query": (1, 10**6, "samples per MultiStream query"),
    "performance_issue_same_index": (0, 10**9, "a sample index"),
    "accuracy_log_sampling_target": (0, 10**9, "responses to log"),
    "max_async_queries": (0, 10**9, "queries in flight (0: no limit)"),
    "server_num_issue_query_threads": (0, 1024, "threads"),
    **{flag: (0, 1, "0 or 1") for flag in ("performance_issue_unique", "performance_issue_same", "print_timestamps",
                                           "coalesce_queries", "use_token_latencies", "infer_token_latencies",
                                           "sample_concatenate_permutation")},
}
REAL = {  # key: (exclusive lowest, highest, why)
    "target_qps": (0.0, 1e12, "queries per second, above 0"),
    "target_latency": (0.0, 100.0 * DAY_MS, "milliseconds, above 0 (Server reads whole milliseconds)"),
    "target_latency_percentile": (0.0, 100.0, "a percentile, above 0 and at most 100"),
}
# Keys LoadGen reads only from mlperf.conf or an audit.config: in a user.conf they would be silently ignored.
NOT_IN_USER_CONF = ("qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed", "accuracy_log_rng_seed",
                    "accuracy_log_probability", "test05", "test05_qsl_rng_seed", "test05_sample_index_rng_seed",
                    "test05_schedule_rng_seed")
WHOLE_TEXT = re.compile(r"^\+?([0-9]+|0x[0-9a-f]+)$", re.ASCII | re.IGNORECASE)


def check_value(scenario: str, key: str, value: str) -> str | None:
    """Why LoadGen would misread `value` for `key`, or run with it for years or exabytes; None if it is fine."""
    if key == "mode":
        return "bench sets LoadGen's mode itself (--mode performance|accuracy|both): remove this line"
    if key in NOT_IN_USER_CONF:
        return f"LoadGen reads {key} only from mlperf.conf or an audit.config and ignores it here: remove this line"
    if key in WHOLE:
        low, high, why = WHOLE[key]
        if not WHOLE_TEXT.match(value):
            return (f"{key} must be a whole number ({why}): LoadGen reads {value!r} as an unsigned integer, "
                    "taking -1 as 2^64-1, 1e3 as 1 and 1.5 as 1")
        number = int(value.lstrip("+"), 0) if value.lower().lstrip("+").startswith("0x") else int(value.lstrip("+"))
        if not low <= number <= high:
            return f"{key} = {value} is outside {low}..{high:,} ({why})"
        return None
    if key in REAL:
        low, high, why = REAL[key]
        number = float.fromhex(value) if "0x" in value.lower() else float(value)
        if not (math.isfinite(number) and low < number <= high):
            return f"{key} = {value} is outside ({low:g}, {high:g}] ({why})"
        bounded = {s.loadgen_name for s in ALL_SCENARIOS.values() if s.has_latency_bound}
        if key == "target_latency" and scenario in (*bounded, "*") and not number.is_integer():
            return (f"target_latency = {value}: {'/'.join(sorted(bounded))} reads whole milliseconds (it would take "
                    f"{int(number)})")
    return None


def keys_for(path: str | Path, model: str, scenario: str) -> set[str]:
    """Keys that the file sets for this model and scenario (LoadGen's Scenario name, e.g. 'Offline')."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read user.conf {path}: {exc}")
    return {
        key for m, s, key, _ in parse(text, str(path)) if m in ("*", model) and s in ("*", scenario)
    }
