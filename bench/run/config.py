"""RunConfig: every option of one run, validated once at the edge; inner code trusts it.

Its fields, defaults and checks come from the option table in bench/run/options.py; this module adds the checks that
read files, and the derived properties.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bench.errors import UsageError
from bench.run import options
from bench.run.options import MLPERF_SERVER_LATENCY_MS, MODES, PRECISIONS, PROFILES, QUICK_DURATION_S, SCENARIOS

__all__ = ["MLPERF_SERVER_LATENCY_MS", "MODES", "PRECISIONS", "PROFILES", "QUICK_DURATION_S", "SCENARIOS",
           "RunConfig"]


class _RunConfig:
    """RunConfig's behaviour; its fields are made from the option table below."""

    def __post_init__(self):
        from bench.run.devices import validate as validate_device

        validate_device(self.device)  # cuda:x, cuda:0,0, cpu:1 ... stop here, exit 2
        options.check(self)  # choices, ranges, options this backend or device does not honour
        if self.val_map is not None and not Path(self.val_map).is_file():
            raise UsageError(f"val_map {self.val_map} does not exist: give the path of a val_map.txt file "
                             "(lines '<image path> <label>')")
        if self.user_conf is not None:
            path = Path(self.user_conf)
            try:
                text = path.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"cannot read --user-conf {path}: {exc}. Give a readable LoadGen user.conf file.")
            from bench.mlperf.userconf import parse

            parse(text, str(path))  # a bad line stops here, naming file:line, before anything loads or runs
        if self.dataset != "synthetic" and not Path(self.dataset).is_dir():
            raise UsageError(
                f"dataset directory {self.dataset} does not exist: give a directory holding val_map.txt "
                "and the images, or --dataset synthetic"
            )

    @property
    def latency_bound(self) -> float:
        """The Server latency bound asked for on the command line, else MLPerf's (a user.conf may still set it)."""
        return MLPERF_SERVER_LATENCY_MS if self.latency_bound_ms is None else self.latency_bound_ms

    @property
    def synthetic_weights(self) -> bool:
        return self.onnx is None and self.weights == "synthetic"

    @property
    def synthetic_data(self) -> bool:
        return self.dataset == "synthetic" and self.val_map is None

    def replace(self, **changes) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def to_record(self) -> dict:
        record = dataclasses.asdict(self)
        record["synthetic_weights"] = self.synthetic_weights
        record["synthetic_data"] = self.synthetic_data
        return record


# Paths are kept as the strings given (records and commands show them as typed).
_TYPES = {Path: str}
RunConfig = dataclasses.make_dataclass(
    "RunConfig",
    [(o.name, _TYPES.get(o.type, o.type) | None if o.default is None else _TYPES.get(o.type, o.type),
      dataclasses.field(default=o.default)) for o in options.OPTIONS if not o.backend_option]
    # backend options (set ones only) and programmatic extras (calibration_dataset, channels_last, ...)
    + [("extra", dict, dataclasses.field(default_factory=dict))],
    bases=(_RunConfig,), frozen=True, namespace={"__module__": __name__},
)
RunConfig.__doc__ = "Every option of one run (fields: bench/run/options.py's table, less backend options, plus extra)."
