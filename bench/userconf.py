"""Reading LoadGen user.conf files: which settings a file names, so the profile's defaults leave them alone."""

from __future__ import annotations

import re
from pathlib import Path

from bench.errors import UsageError

# `model.scenario.key = value`; model and scenario may be `*`. LoadGen ignores `#` comments and blank lines.
LINE = re.compile(r"^\s*([\w*.-]+)\.([\w*]+)\.(\w+)\s*=\s*([^#\s]+)\s*(#.*)?$")


def parse(text: str, source: str = "user.conf") -> list[tuple[str, str, str, str]]:
    """(model, scenario, key, value) for each setting line; a line LoadGen would misread is an error."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = LINE.match(line)
        if match is None:
            raise UsageError(
                f"{source}:{number}: cannot read {stripped[:80]!r}: expected 'model.Scenario.key = value', "
                "for example 'resnet50.Offline.target_qps = 100'"
            )
        entries.append(match.groups()[:4])
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
