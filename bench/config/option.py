"""One option of `bench run`: type, default, help, range or choices, and who honours it.

RunConfig (bench/config/run_config.py) declares each of its fields with `option(...)`, which keeps an `Option` in the
field's metadata; options that travel to a backend are `Option` objects of their own. Which backends honour a
backend option is theirs to declare (`SUPPORTS` in each backend module), not the table's. Standard library only.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.errors import UsageError


@dataclass(frozen=True)
class Option:
    name: str  # RunConfig's field; for a backend option, its key in RunConfig.extra and BackendOptions.extra
    type: type  # int, float, str, bool or Path
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] | None = None
    low: float | None = None  # a number must lie in low..high (or (low, high] with low_open)
    high: float | Callable[[], float] | None = None
    low_open: bool = False
    why: str = ""  # why the range: the refusal says it
    devices: tuple[str, ...] | None = None  # the device kinds it needs, and why
    device_why: str = ""
    precisions: tuple[str, ...] | None = None  # the precisions it applies to
    backend_option: bool = False  # travels in RunConfig.extra to the backend, only when set
    secret: bool = False  # a credential: sent to the backend, redacted in records and printed commands
    flag: str = ""  # default: --name-with-dashes
    cli: bool = True

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def upper(self) -> float | None:
        return self.high() if callable(self.high) else self.high

    def range_text(self) -> str:
        span = f"> {_num(self.low)} and <= {_num(self.upper)}" if self.low_open else \
            f"in {_num(self.low)}..{_num(self.upper)}"
        return f"{'an integer' if self.type is int else 'a number'} {span}"

    def check_number(self, value) -> None:
        """Finite, of the option's type, and within its range: else exit 2 saying the range and why."""
        if self.low is None or value is None:
            return
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if self.type is int and not isinstance(value, int):
            number = False
        upper = self.upper
        ok = number and math.isfinite(value) and (value > self.low if self.low_open else value >= self.low)
        if not (ok and upper is not None and value <= upper):
            raise UsageError(f"{self.cli_flag} must be {self.range_text()} ({self.why}), got {value!r}")


def option(default: Any = None, help: str = "", *, type: type | None = None, **declared: Any) -> Any:
    """A RunConfig field that carries its Option. The Option's name and type come from the field itself (see
    `field_options`); `type` is given only where the command line's differs from the stored one (a Path kept as
    the string the user typed)."""
    return dataclasses.field(default=default, metadata={"option": (help, type, declared)})


def field_options(cls, hints: dict[str, Any]) -> tuple[Option, ...]:
    """The Options of a dataclass declared with `option(...)`, in field order (`hints`: its resolved annotations)."""
    made = []
    for f in dataclasses.fields(cls):
        if "option" not in f.metadata:
            continue
        help, kind, declared = f.metadata["option"]
        if kind is None:  # `int | None` is an int option whose default is None
            kind = next(t for t in getattr(hints[f.name], "__args__", (hints[f.name],)) if t is not type(None))
        made.append(Option(f.name, kind, f.default, help, **declared))
    return tuple(made)


def _num(x: float | None) -> str:
    if x is None:
        return "?"
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"
