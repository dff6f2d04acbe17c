"""A sweep plan (TOML): a matrix of `bench run` options and explicit runs, crossed with the targets that run them.

Every value is checked against `bench run`'s own option types here, so a bad plan stops before anything runs,
naming the file, the line and the fix (exit 2).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import click

from bench import safe_names
from bench.config.run_config import DEFAULTS
from bench.errors import UsageError
from bench.sweep import options as opts

TARGET_KEYS = {"resources", "accelerator", "hostname", "labels", "options"}
TOP_KEYS = {"defaults", "matrix", "runs", "targets"}
# The local machine, when a plan names no targets.
ANY = "any"


@dataclass(frozen=True)
class Target:
    name: str
    resources: dict = field(default_factory=dict)  # Ray custom resources a node must have
    accelerator: str | None = None  # Ray's accelerator type, e.g. H100
    hostname: str | None = None
    labels: dict = field(default_factory=dict)  # Ray node labels
    options: dict = field(default_factory=dict)  # run options this target adds (e.g. device = "cuda")

    @property
    def selects(self) -> bool:
        return bool(self.resources or self.accelerator or self.hostname or self.labels)


@dataclass(frozen=True)
class Cell:
    target: Target
    options: dict

    @property
    def config_hash(self) -> str:
        """Same target and options, same hash: what --resume matches on."""
        text = json.dumps({"target": self.target.name, "options": self.options}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def options_hash(self) -> str:
        """The same cell on different targets: what version warnings compare across."""
        return hashlib.sha256(json.dumps(self.options, sort_keys=True, default=str).encode()).hexdigest()[:12]

    @property
    def key(self) -> str:
        o = {**DEFAULTS, **self.options}
        parts = [o["model"], o["backend"], o["scenario"], o["precision"], f"b{o['batch_size']}"]
        return safe_names.slug(f"{'-'.join(map(str, parts))[:100]}-{self.config_hash[:10]}")


@dataclass
class Plan:
    path: Path
    cells: list[Cell]
    skipped: list[tuple[Cell, str]]  # filtered before running, with the reason
    digest: str  # sha256 of the plan file


def line_of(text: str, key: str) -> int:
    """The first line that sets `key` (or opens table `key`), for error messages; 1 if not found."""
    pattern = re.compile(rf'(^|[\s{{,.\[])"?{re.escape(key)}"?\s*(=|\])')
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.search(line.split("#", 1)[0]):
            return number
    return 1


class _Reader:
    def __init__(self, path: Path, text: str):
        self.path, self.text, self.params = path, text, opts.run_params()

    def fail(self, key: str, problem: str, fix: str):
        raise UsageError(f"{self.path}:{line_of(self.text, key)}: {problem}. {fix}")

    def option(self, key: str, value):
        name = opts.normalise(key)
        if name not in self.params:
            known = ", ".join(sorted(self.params))
            self.fail(key, f"unknown run option {key!r}", f"Use one of bench run's options: {known}")
        try:
            return name, opts.convert(name, value, self.params)
        except click.BadParameter as exc:
            self.fail(key, f"bad value {value!r} for {key} ({exc.message})",
                      f"Give {opts.describe(self.params[name])}")

    def table(self, key: str, value) -> dict:
        if not isinstance(value, dict):
            self.fail(key, f"{key} must be a table", f"Write it as [{key}] with `option = value` lines")
        return value

    def options(self, where: str, table) -> dict:
        return dict(self.option(k, v) for k, v in self.table(where, table).items())

    def target(self, name: str, spec) -> Target:
        if name == "report":  # <output>/report/ is the sweep's report
            why = "the sweep writes its report in <output>/report"
        else:
            why = safe_names.problem(name)  # it names the folder its runs land in under --output
        if why is not None:
            self.fail(name, f"target name {name!r} cannot name a folder under --output: {why}",
                      f"Rename it, e.g. [targets.{safe_names.slug(name) if name != 'report' else 'report_node'}]")
        spec = self.table(name, spec)
        for key in spec:
            if key not in TARGET_KEYS:
                self.fail(key, f"target {name!r} has unknown key {key!r}", f"Use {', '.join(sorted(TARGET_KEYS))}")
        for key in ("resources", "labels"):
            for k, v in self.table(key, spec.get(key, {})).items():
                ok = isinstance(v, (int, float)) and v > 0 if key == "resources" else isinstance(v, str)
                if not ok or isinstance(v, bool):
                    want = "a positive number" if key == "resources" else "a string"
                    self.fail(k, f"target {name!r}: {key}.{k} = {v!r}", f"Give {want}")
        for key in ("accelerator", "hostname"):
            if key in spec and not (isinstance(spec[key], str) and spec[key]):
                self.fail(key, f"target {name!r}: {key} must be a non-empty string", f'Write {key} = "..."')
        return Target(name, dict(spec.get("resources", {})), spec.get("accelerator"), spec.get("hostname"),
                      dict(spec.get("labels", {})), self.options("options", spec.get("options", {})))


def load(path: str | Path) -> Plan:
    path = Path(path)
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode())
    except OSError as exc:
        raise UsageError(f"cannot read plan {path}: {exc.strerror or exc}. "
                         "Give a TOML plan file (see examples/sweep.toml)")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text ({exc}). Save the plan as UTF-8 TOML (see examples/sweep.toml)")
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))
        line = found.group(1) if found else len(raw.splitlines())  # "at end of document": the last line
        raise UsageError(f"{path}:{line}: not valid TOML ({exc}). Fix that line (see examples/sweep.toml)")
    reader = _Reader(path, raw.decode())
    for key in data:
        if key not in TOP_KEYS:
            reader.fail(key, f"unknown section {key!r}", f"A plan has {', '.join(sorted(TOP_KEYS))}")
    defaults = reader.options("defaults", data.get("defaults", {}))
    matrix = reader.table("matrix", data.get("matrix", {}))
    axes = {}
    for key, values in matrix.items():
        values = values if isinstance(values, list) else [values]
        if not values:
            reader.fail(key, f"matrix axis {key!r} is empty", "Give at least one value, or remove the line")
        converted = [reader.option(key, v) for v in values]
        axes[converted[0][0]] = [v for _, v in converted]
    combos = []
    if axes:
        combos = [{**defaults, **dict(zip(axes, values))} for values in itertools.product(*axes.values())]
    runs = data.get("runs", [])
    if not isinstance(runs, list):
        reader.fail("runs", "runs must be an array of tables", "Write each run as [[runs]] with option lines")
    combos += [{**defaults, **reader.options("runs", run)} for run in runs]
    if not combos:
        reader.fail("matrix", "the plan has no cells", "Add a [matrix] with option lists, or [[runs]] tables")
    targets = [reader.target(n, s) for n, s in reader.table("targets", data.get("targets", {})).items()]
    targets = targets or [Target(ANY)]
    cells, seen = [], set()
    for target, combo in itertools.product(targets, combos):
        cell = Cell(target, {**combo, **target.options})
        if cell.config_hash not in seen:
            seen.add(cell.config_hash)
            cells.append(cell)
    runnable, skipped = [], []
    for cell in cells:
        reason = static_refusal(cell.options)
        (skipped.append((cell, reason)) if reason else runnable.append(cell))
    return Plan(path, runnable, skipped, hashlib.sha256(raw).hexdigest())


def static_refusal(options: dict) -> str | None:
    """What the backend's declaration refuses on any machine (device kind, precision there, options there); None
    if it may run. The same declaration check_options starts from (Backend.declared_refusal).

    Machine-dependent checks (installed packages, bf16 on this CPU, a GPU present) run where the cell runs.
    """
    import backends
    from bench.errors import BenchError

    name = options.get("backend", DEFAULTS["backend"])
    try:
        cls = backends.backend_class(name)
    except BenchError as exc:
        return str(exc) if name not in backends.names(include_hidden=True) else None
    refused = cls.declared_refusal(backend_options(options))
    return None if refused is None else str(refused)


def backend_options(options: dict):
    """BackendOptions for a cell, from whichever fields BackendOptions has."""
    import dataclasses

    from backends import BackendOptions

    fields = {f.name for f in dataclasses.fields(BackendOptions)}
    values = {"precision": options.get("precision", "fp32"), "device": options.get("device", "cpu"),
              "batch_size": options.get("batch_size", 8), "threads": options.get("threads")}
    return BackendOptions(**{k: v for k, v in values.items() if k in fields})
