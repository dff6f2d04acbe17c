"""Reading LoadGen user.conf files: which settings a file names, so the profile's defaults leave them alone."""

from __future__ import annotations

import re
from pathlib import Path

from bench.errors import UsageError
from scenarios import SCENARIOS as ALL_SCENARIOS

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
        entries.append((*match.groups(), value))
    return entries


def keys_for(path: str | Path, model: str, scenario: str) -> set[str]:
    """Keys that the file sets for this model and scenario (LoadGen's Scenario name, e.g. 'Offline')."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read user.conf {path}: {exc}")
    return {
        key for m, s, key, _ in parse(text, str(path)) if m in ("*", model) and s in ("*", scenario)
    }
