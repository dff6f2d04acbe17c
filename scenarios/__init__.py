"""LoadGen scenarios by CLI name; one module each."""

from __future__ import annotations

from scenarios.base import Estimate, Scenario
from scenarios.offline import Offline
from scenarios.server import Server
from scenarios.single_stream import SingleStream

SCENARIOS: dict[str, type[Scenario]] = {s.name: s for s in (Offline, Server, SingleStream)}


def get(name: str) -> Scenario:
    return SCENARIOS[name]()


__all__ = ["Estimate", "Scenario", "SCENARIOS", "get"]
