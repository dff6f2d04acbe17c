"""A sweep plan (TOML): a matrix of `bench run` options and explicit runs, crossed with the targets that run them.

The plan is checked whole before anything runs, against `bench run`'s own option table (bench/sweep/options.py):
strict types, ranges, choices, one spelling per option, and every cell's options as `bench run` would check them
(an option its backend, device or precision does not honour). A bad plan stops naming the file, the line and the
fix (exit 2). The matrix is counted before it is built: beyond MAX_CELLS it is refused with its count.

`repeat = N` (or `until_stable = P` with `max_repeats = M`) at the top of a plan runs every cell N times in rounds,
A B A B ... (bench/sweep/rounds.py), checked by `bench run`'s own --repeat, --until-stable and --max-repeats.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import click

from bench import safe_names
from bench.config.run_config import DEFAULTS
from bench.errors import UsageError
from bench.sweep import options as opts
from bench.sweep import rounds

TARGET_KEYS = {"resources", "accelerator", "hostname", "labels", "options"}
TOP_KEYS = {"defaults", "matrix", "runs", "targets"}
# The local machine, when a plan names no targets.
ANY = "any"
# The most cells a plan may expand to: at a minute a cell, 10,000 cells are a week of one node. Counted from the
# axes' lengths before any cell is built, so a million-cell matrix is refused at once, not built in memory.
MAX_CELLS = 10_000


@dataclass(frozen=True)
class Target:
    name: str
    resources: dict = field(default_factory=dict)  # Ray custom resources a node must have
    accelerator: str | None = None  # Ray's accelerator type, e.g. H100
    hostname: str | None = None
    labels: dict = field(default_factory=dict)  # Ray node labels
    options: dict = field(default_factory=dict)  # run options this target adds (e.g. device = "cuda")


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
    rule: dict | None = None  # repeat rule ({repeat} or {until_stable, window, max_repeats}); None: one run a cell


def line_of(text: str, key: str) -> int:
    """The first line that sets `key` (or opens table `key`), for error messages; 1 if not found."""
    pattern = re.compile(rf'(^|[\s{{,.\[])"?{re.escape(key)}"?\s*(=|\])')
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.search(line.split("#", 1)[0]):
            return number
    return 1


class _Reader:
    def __init__(self, path: Path, text: str, machine_bounds: bool = True):
        self.path, self.text, self.params = path, text, opts.options()
        self.machine_bounds = machine_bounds

    def fail(self, key: str, problem: str, fix: str):
        raise UsageError(f"{self.path}:{line_of(self.text, key)}: {problem}. {fix}")

    def option(self, key: str, value):
        name = opts.normalise(key)
        if name not in self.params:
            known = ", ".join(sorted(self.params))
            self.fail(key, f"unknown run option {key!r}", f"Use one of bench run's options: {known}")
        try:
            return name, opts.convert(name, value, self.machine_bounds)
        except click.BadParameter as exc:
            self.fail(key, f"bad value {value!r} for {key} ({exc.message})",
                      f"Give {opts.describe(self.params[name])}")

    def table(self, key: str, value) -> dict:
        if not isinstance(value, dict):
            self.fail(key, f"{key} must be a table", f"Write it as [{key}] with `option = value` lines")
        return value

    def one_spelling(self, keys) -> None:
        """`batch-size` and `batch_size` in one table are one option twice: TOML keeps both, one would win."""
        spelt: dict[str, str] = {}
        for key in keys:
            if (first := spelt.setdefault(opts.normalise(key), key)) != key:
                self.fail(key, f"{opts.normalise(key)} is given twice, as {first!r} and {key!r}",
                          "Keep one of the two lines")

    def options(self, where: str, table) -> dict:
        self.one_spelling(self.table(where, table))
        return dict(self.option(k, v) for k, v in table.items())

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


def load(path: str | Path, machine_bounds: bool = True) -> Plan:
    """The plan, checked whole. `machine_bounds`: check this machine's limits (--threads' cores) too; off when
    the cells run on other nodes (Ray), which check their own."""
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
    reader = _Reader(path, raw.decode(), machine_bounds)
    for key in data:
        if key not in TOP_KEYS and opts.normalise(key) not in rounds.RULE_KEYS:
            reader.fail(key, f"unknown section {key!r}", f"A plan has {', '.join(sorted(TOP_KEYS))} and, before "
                        f"them, {', '.join(rounds.RULE_KEYS)}")
    rule = rounds.rule(reader, data)
    defaults = reader.options("defaults", data.get("defaults", {}))
    matrix = reader.table("matrix", data.get("matrix", {}))
    reader.one_spelling(matrix)
    axes = {}
    for key, values in matrix.items():
        values = values if isinstance(values, list) else [values]
        if not values:
            reader.fail(key, f"matrix axis {key!r} is empty", "Give at least one value, or remove the line")
        converted = [reader.option(key, v) for v in values]
        axes[converted[0][0]] = [v for _, v in converted]
    runs = data.get("runs", [])
    if not isinstance(runs, list):
        reader.fail("runs", "runs must be an array of tables", "Write each run as [[runs]] with option lines")
    targets = [reader.target(n, s) for n, s in reader.table("targets", data.get("targets", {})).items()]
    targets = targets or [Target(ANY)]
    # Counted before anything is built: the product of the axes' lengths, plus the runs, times the targets.
    count = ((math.prod(len(v) for v in axes.values()) if axes else 0) + len(runs)) * len(targets)
    if count > MAX_CELLS:
        shape = " x ".join(f"{len(v)} {k}" for k, v in axes.items()) or "no matrix"
        reader.fail("matrix", f"the plan expands to {count:,} cells (({shape}) + {len(runs)} runs, on "
                    f"{len(targets)} targets), more than the {MAX_CELLS:,} a sweep runs",
                    "Split it into several plans, or shorten its axes")
    combos = []
    if axes:
        combos = [{**defaults, **dict(zip(axes, values))} for values in itertools.product(*axes.values())]
    combos += [{**defaults, **reader.options("runs", run)} for run in runs]
    if not combos:
        reader.fail("matrix", "the plan has no cells", "Add a [matrix] with option lists, or [[runs]] tables")
    cells, seen = [], set()
    for target, combo in itertools.product(targets, combos):
        cell = Cell(target, {**combo, **target.options})
        if cell.config_hash not in seen:
            seen.add(cell.config_hash)
            cells.append(cell)
    runnable, skipped, verdicts = [], [], {}
    for cell in cells:
        _check_cell(reader, cell)  # what bench run would refuse stops the whole plan, before any cell runs
        # The backend's verdict rests on these fields only: asked once each (reading backends is not free).
        asks = tuple(str(cell.options.get(k)) for k in ("backend", "precision", "device", "batch_size", "threads"))
        if asks not in verdicts:
            verdicts[asks] = static_refusal(cell.options)
        reason = verdicts[asks]
        (skipped.append((cell, reason)) if reason else runnable.append(cell))
    return Plan(path, runnable, skipped, hashlib.sha256(raw).hexdigest(), rule)


def _check_cell(reader: _Reader, cell: Cell) -> None:
    """bench run's own checks on a cell's options (bench/sweep/options.py): refused naming the cell."""
    reason = opts.refusal(cell.options, reader.machine_bounds)
    if reason is None:
        return
    # The line of the option the refusal names (its --flag), else the matrix.
    key = next((k for k in cell.options if reason.startswith(f"--{k.replace('_', '-')} ")), "matrix")
    spelt = key if line_of(reader.text, key) > 1 or key == "matrix" else key.replace("_", "-")
    where = "" if cell.target.name == ANY else f" on target {cell.target.name!r}"
    shown = ", ".join(f"{k} = {v!r}" for k, v in cell.options.items())
    reader.fail(spelt, f"cell {cell.key}{where} ({shown}) would be refused by bench run: {reason.rstrip('.')}",
                "In a plan, set such an option in [[runs]] (or a target's options) only for cells that honour it")


def static_refusal(options: dict) -> str | None:
    """What the backend's declaration refuses on any machine (device kind, precision there, options there); None
    if it may run. The same declaration check_options starts from (Backend.declared_refusal).

    Machine-dependent checks (installed packages, bf16 on this CPU, a GPU present) run where the cell runs.
    """
    from bench import backends
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

    from bench.backends import BackendOptions

    fields = {f.name for f in dataclasses.fields(BackendOptions)}
    values = {"precision": options.get("precision", "fp32"), "device": options.get("device", "cpu"),
              "batch_size": options.get("batch_size", 8), "threads": options.get("threads")}
    return BackendOptions(**{k: v for k, v in values.items() if k in fields})
