"""MLPerf Inference rounds as the official submission checker knows them: seeds, ResNet-50's suites, layout.

Facts copied from mlcommons/inference, tools/submission/submission_checker/constants.py at commit
b66003e10e2db4b8c36a448b0545ec90fcc6e9e9 (2026-08-20): MODEL_CONFIG[<round>]["seeds"] and
["required-scenarios-<suite>"]["resnet"], MEASUREMENTS_PATH, TEST01_PERF_PATH, SRC_PATH. The checker fails
a result whose detail log's effective_*_rng_seed differ from its round's seeds, and LoadGen takes the seeds
from the mlperf.conf built into it, so the round of a run is read from its detail log, never assumed.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench import scenarios
from bench.errors import UsageError

SEED_KEYS = ("qsl", "sample_index", "schedule")
SUITES = ("edge", "datacenter", "datacenter,edge")


@dataclass(frozen=True)
class Round:
    name: str
    seeds: tuple[int, int, int]  # qsl, sample_index, schedule
    resnet: tuple[str, ...]  # the suites with ResNet-50; each requires its scenarios (scenarios.suite), as the checker
    split: bool  # measurements/ and compliance/ beside results/ (v5.x); else inside each scenario folder
    code_dir: str  # "code" (v5.x) or "src"

    def scenarios(self, suite: str) -> tuple[str, ...]:
        """The scenarios `suite` requires for ResNet-50; refuses a suite this round has no ResNet-50 in."""
        if suite not in SUITES:
            raise UsageError(f"--system-type must be one of {', '.join(SUITES)}, got {suite!r}")
        if suite not in self.resnet:
            has = [s for s in SUITES if s in self.resnet]
            raise UsageError(f"MLPerf Inference {self.name} has no ResNet-50 in the {suite} suite (its checker's "
                             f"model list): use --system-type {' or '.join(has)}")
        return tuple(dict.fromkeys(name for part in suite.split(",") for name in scenarios.suite(part)))


ROUNDS: dict[str, Round] = {r.name: r for r in (
    Round("v5.0", (6023615788873153749, 15036839855038426416, 9933818062894767841),
          ("edge", "datacenter", "datacenter,edge"), True, "code"),
    # ResNet-50 left the datacenter suite in v5.1: only edge, or datacenter together with edge.
    Round("v5.1", (1780908523862526354, 14771362308971278857, 18209322760996052031),
          ("edge", "datacenter,edge"), True, "code"),
    Round("v6.0", (2465351861681999779, 14276810075590677512, 3936089224930324775),
          ("edge", "datacenter,edge"), False, "src"),
    # The seeds LoadGen 6.0.17's built-in mlperf.conf carries.
    Round("v6.1", (2085463073848966840, 2747215439041700203, 16159082839903944936),
          ("edge", "datacenter,edge"), False, "src"),
)}
VERSIONS = tuple(ROUNDS)


def seeds_of(perf: dict) -> tuple[int, int, int] | None:
    """A record's performance seeds (from its detail log), or None for a record made before they were kept."""
    seeds = (perf or {}).get("seeds") or {}
    values = tuple(seeds.get(k) for k in SEED_KEYS)
    return None if None in values else tuple(int(v) for v in values)


def round_of(seeds: tuple[int, int, int]) -> Round | None:
    return next((r for r in ROUNDS.values() if r.seeds == seeds), None)


def choose(version: str | None, seeds: set[tuple[int, int, int]]) -> Round:
    """The round to write: the runs' own (from their seeds), or `version` if its seeds are the runs' seeds."""
    if version is not None and version not in ROUNDS:
        raise UsageError(f"--version must be one of {', '.join(VERSIONS)}, got {version!r}")
    if len(seeds) > 1:
        raise UsageError("the runs were made with different LoadGen seeds ("
                         + "; ".join(_describe(s) for s in sorted(seeds)) + "): rerun them with one LoadGen")
    ran = round_of(next(iter(seeds))) if seeds else None
    if version is None:
        if ran is None:
            found = next(iter(seeds), None)
            why = "no performance run records seeds" if found is None else f"their seeds are {_describe(found)}"
            if found == (0, 0, 0):
                why += " (quick runs of an earlier bench did not take LoadGen's seeds)"
            raise UsageError(f"cannot tell the runs' MLPerf round: {why}. Rerun them, or give --version "
                             f"({', '.join(VERSIONS)}) with runs made with that round's LoadGen")
        return ran
    wanted = ROUNDS[version]
    if seeds and wanted.seeds not in seeds:
        msg = f"--version {version} needs {version}'s LoadGen seeds, but the runs were made with " \
              f"{_describe(next(iter(seeds)))}"
        if ran:
            msg += f": submit them as --version {ran.name} (the default)"
        raise UsageError(msg + f", or install the mlcommons-loadgen release for {version} (its mlperf.conf "
                         f"carries qsl_rng_seed = {wanted.seeds[0]}) and rerun them")
    return wanted


def _describe(seeds: tuple[int, int, int]) -> str:
    found = round_of(seeds)
    return f"{found.name}'s" if found else f"{seeds} (no known round)"
