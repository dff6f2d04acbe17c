"""The server's side of a remote run's time: Triton's statistics extension (/v2/models/{m}/stats, read with
tritonclient's get_inference_statistics) before and after the timed run. The difference of its cumulative counters
is the timed run's server time (queue, compute input, infer, compute output); the client's own time per request less
that is the rest: network, serialisation and the client. A server without the extension is said so, never guessed.
"""

from __future__ import annotations

PHASES = (("queue", "queue"), ("compute_input", "compute_input"), ("infer", "compute_infer"),
          ("compute_output", "compute_output"))


def read(client, protocol: str, model: str, version: str, headers: dict | None, timeout_s: float) -> dict[str, int]:
    """The model's cumulative counters, in ns (and `requests`: successful ones). Raises where the server has none."""
    if protocol == "http":
        stats = client.get_inference_statistics(model, model_version=version, headers=headers)
    else:  # gRPC's JSON form writes 64-bit numbers as strings and leaves zeros out
        stats = client.get_inference_statistics(model, model_version=version, headers=headers, as_json=True,
                                                client_timeout=timeout_s)
    totals = {"requests": 0, **{key: 0 for key, _ in PHASES}}
    for entry in stats.get("model_stats", []):
        inference = entry.get("inference_stats", {})
        totals["requests"] += int(inference.get("success", {}).get("count", 0))
        for key, field in PHASES:
            totals[key] += int(inference.get(field, {}).get("ns", 0))
    return totals


def counted(before: dict[str, dict | str], after: dict[str, dict | str]) -> int | None:
    """Requests the servers counted between the two reads; None where one has no statistics."""
    if any(isinstance(v, str) for v in (*before.values(), *after.values())):
        return None
    return sum(after[u]["requests"] - before[u]["requests"] for u in after if u in before)


def split(before: dict[str, dict | str], after: dict[str, dict | str], client_requests: int,
          client_busy_s: float) -> dict:
    """The timed run's mean request, split: per endpoint counters before and after (or why there are none)."""
    missing = {url: why for url, why in {**before, **after}.items() if isinstance(why, str)}
    if missing:
        return {"available": False, "source": None,
                "reason": "; ".join(f"{url}: {why}" for url, why in sorted(missing.items()))}
    delta = {key: sum(after[u][key] - before[u][key] for u in after) for key in ("requests", *dict(PHASES))}
    if not client_requests or not delta["requests"]:
        return {"available": False, "source": "triton statistics extension",
                "reason": "no request reached the server's counters in the timed run"}
    client_ms = 1000 * client_busy_s / client_requests
    server = {key: delta[key] / 1e6 / delta["requests"] for key, _ in PHASES}
    out = {"available": True, "source": "triton statistics extension", "requests": client_requests,
           "server_requests": delta["requests"], "client_ms": round(client_ms, 4)}
    out.update({f"{key}_ms": round(v, 4) for key, v in server.items()})
    out["other_ms"] = round(client_ms - sum(server.values()), 4)  # network, serialisation, the client
    return out
