"""MLPerf's rules for a SUT reached over the network, held against a run's record.

A run whose model ran on a server (`--backend remote`: its record lists the endpoints) is a Network SUT. The
submission checker takes such a system only in the Network division (its system JSON says `is_network: true`
there and must say false in the closed division), and that division's QDL constraints (inference_rules.adoc,
"Network Division", mlcommons/inference_policies) are what bench's client must meet. bench submission writes the
closed and open divisions: it refuses a remote run in the closed one, saying which Network-division rules it meets
and which it does not.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlparse

from bench import scenarios

RULES = "inference_rules.adoc, Network Division"


def is_network(record: dict) -> bool:
    return bool((record.get("backend") or {}).get("endpoints"))


def _this_machine(host: str | None) -> bool:
    if host in (None, "", "localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def unmet(record: dict) -> list[str]:
    """The Network division's rules this remote run's record shows unmet, each quoted with its fix."""
    backend, cfg = record.get("backend") or {}, record.get("config") or {}
    found = []
    local = [u for u in backend.get("endpoints") or [] if _this_machine(urlparse(u).hostname)]
    if local:
        found.append(f'"The SUT and QDL must run on physically separate and distinct systems": {", ".join(local)} '
                     "is this machine; serve the model on another system")
    shape = (backend.get("output") or {}).get("shape") or []
    if len(shape) > 1 and shape[-1] != 1:
        found.append('"The QDL is not allowed to do any post-processing of the responses, e.g. ... ArgMax": the served '
                     f"model returns scores {shape} and bench took their argmax; serve one that returns class ids")
    scenario = scenarios.get(cfg["scenario"]) if cfg.get("scenario") in scenarios.SCENARIOS else None
    if scenario is not None and scenario.joins_queries and (cfg.get("batch_size") or 1) > 1:
        found.append(f'"The QDL is not allowed to batch queries": --batch-size {cfg["batch_size"]} joined '
                     f"{scenario.loadgen_name} queries into one request; run --batch-size 1 and let the server batch")
    return found


def closed_refusal(record: dict) -> str:
    """Why a remote run is not a closed-division result, and what of the Network division's rules it meets."""
    missing = unmet(record)
    where = ("it meets the rules a record can show for MLPerf's Network division, which bench submission does not "
             "write" if not missing else f"for MLPerf's Network division it also misses ({RULES}): " +
             "; ".join(missing))
    return (f"{record.get('run_id')}: its model ran on a server ({', '.join(record['backend']['endpoints'])}), a "
            "Network SUT: the closed division's systems run the model on the LoadGen system (the checker wants "
            f"is_network false there); {where}")
