"""LoadGen scenarios by CLI name, one module each: adding a scenario is one module and one line here.

Every other part of the harness asks a scenario (its metric, sizing, batch, tune target, submission folder)
rather than naming it.
"""

from __future__ import annotations

from bench.record import codec
from bench.scenarios.base import Estimate, Figure, Scenario
from bench.scenarios.multi_stream import MultiStream
from bench.scenarios.offline import Offline
from bench.scenarios.server import Server
from bench.scenarios.single_stream import SingleStream

SCENARIOS: dict[str, type[Scenario]] = {s.name: s for s in (Offline, Server, SingleStream, MultiStream)}
NAMES = tuple(SCENARIOS)

# Schema-1 records named their metric by these words, which were not always MLPerf's (see headline()).
SCHEMA1_METRICS = {
    "samples_per_second": Figure("result_samples_per_second", "samples/s", "samples/s", True),
    "scheduled_samples_per_second": Figure("result_scheduled_samples_per_sec", "scheduled samples/s (schema 1)",
                                           "samples/s", True),
    "p90_latency_ms": Figure("result_90.00_percentile_latency_ns", "p90 latency (schema 1)", "ms", False),
}


def suite(system_type: str) -> list[str]:
    """LoadGen names of the scenarios an MLPerf suite ("edge", "datacenter") requires."""
    return [s.loadgen_name for s in SCENARIOS.values() if system_type in s.suites]


def get(name: str) -> Scenario:
    return SCENARIOS[name]()


def by_loadgen_name(loadgen_name: str) -> Scenario:
    return next(s() for s in SCENARIOS.values() if s.loadgen_name == loadgen_name)


def headline(record: dict) -> dict | None:
    """The record's headline metric: {key, name, unit, higher_is_better, value}, or None without one.

    Schema-2 records carry MLPerf's metric with its unit and direction. Schema-1 records carried scheduled
    samples/s for Server and raw p90 for SingleStream: those are read as they are and named "(schema 1)",
    never passed off as MLPerf's figure."""
    metric = ((record.get("performance") or {}).get("result_metric")) or {}
    if not isinstance(metric, dict) or "value" not in metric:
        return None
    if "unit" in metric:
        return metric
    figure = SCHEMA1_METRICS.get(str(metric.get("name")))
    if figure is None:
        return None
    return codec.as_json(figure.measured(metric["value"]))


__all__ = ["Estimate", "Figure", "Scenario", "SCENARIOS", "NAMES", "get", "by_loadgen_name", "headline", "suite"]
