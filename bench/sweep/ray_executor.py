"""The Ray executor: each cell a Ray task on a node that matches its target, one benchmark per node at a time.

Every node offers one `bench_slot`, which a cell's task takes whole: Ray's scheduler is the lock that keeps a
machine to one benchmark. Ray's own retries are off (max_retries=0) so that every attempt, and why it failed,
is recorded by the sweep; --retries resubmits. A cell no alive node can take is reported, never left pending.
"""

from __future__ import annotations

import os
import socket

from bench.errors import UsageError
from bench.sweep import rounds
from bench.sweep.cell import failed as cell_failed
from bench.sweep.cell import run_cell
from bench.sweep.plan import Cell, Target
from bench.sweep.progress import Progress, where
from bench.sweep.tree import Sweep

SLOT = "bench_slot"
HEAD = "node:__internal_head__"
START_HINT = (f"start every node with one slot: ray start --head --resources '{{\"{SLOT}\": 1}}' on the first, "
              f"ray start --address HEAD:6379 --resources '{{\"{SLOT}\": 1}}' on the others")


def connect(address: str):
    """ray, initialised against the cluster at `address` (auto, or host:port)."""
    host = address.rsplit(":", 1)[0]
    if host in ("127.0.0.1", "localhost"):
        # Ray swaps a loopback address for this machine's outward IP before connecting, where a cluster started
        # with --node-ip-address 127.0.0.1 does not listen; this keeps the driver on loopback too.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise UsageError("bench sweep --ray needs Ray, which is not installed: pip install 'bench[sweep]'")
    if address != "auto":  # Ray retries an unreachable address for minutes: ask the port first
        port = address.rsplit(":", 1)[-1]
        try:
            socket.create_connection((host.split("//")[-1], int(port)), timeout=10).close()
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot reach a Ray cluster at {address} ({exc}): give the head's host:port "
                             "(ray start --head prints it), or --ray auto on a node of the cluster")
    try:
        ray.init(address=address, log_to_driver=False, logging_level="ERROR", configure_logging=False)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise UsageError(f"cannot reach a Ray cluster at {address}: {exc}. Start one with `ray start --head` "
                         "and give its address (host:6379), or --ray auto on a node of the cluster")
    if not any(n["Alive"] and n["Resources"].get(SLOT, 0) >= 1 for n in ray.nodes()):
        ray.shutdown()
        raise UsageError(f"no node of the Ray cluster at {address} offers a {SLOT}: {START_HINT}")
    return ray


def matches(target: Target, node: dict) -> bool:
    resources = node["Resources"]
    return (node["Alive"] and resources.get(SLOT, 0) >= 1
            and all(resources.get(k, 0) >= v for k, v in target.resources.items())
            and (not target.accelerator or f"accelerator_type:{target.accelerator}" in resources)
            and (not target.hostname or node["NodeManagerHostname"] == target.hostname)
            and all(node.get("Labels", {}).get(k) == v for k, v in target.labels.items()))


def unplaceable(target: Target, nodes: list[dict]) -> str:
    wants = [f"{SLOT}=1"] + [f"{k}={v}" for k, v in target.resources.items()]
    wants += [f"accelerator={target.accelerator}"] * bool(target.accelerator)
    wants += [f"hostname={target.hostname}"] * bool(target.hostname)
    wants += [f"label {k}={v}" for k, v in target.labels.items()]
    alive = sum(n["Alive"] for n in nodes)
    return f"no alive node matches target {target.name} ({', '.join(wants)}; {alive} alive nodes checked)"


def placement(target: Target, nodes: list[dict]) -> dict:
    """Ray task options that put a cell on a node matching its target, holding that node's slot."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    resources = {SLOT: 1, **{k: v for k, v in target.resources.items() if k not in ("CPU", "GPU")}}
    options = {"resources": resources, "num_cpus": target.resources.get("CPU", 0),
               "num_gpus": target.resources.get("GPU", 0)}
    if target.accelerator:
        options["accelerator_type"] = target.accelerator
    if target.labels:
        options["label_selector"] = dict(target.labels)
    if target.hostname:  # Ray has no hostname resource: pin to the (first) matching node
        node = next(n for n in nodes if matches(target, n))
        options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
    return options


class Tracker:
    """A small actor on the head node: tasks say where they started, so the table shows running cells' nodes."""

    def __init__(self):
        self.running = {}

    def started(self, attempt: str, node: dict) -> None:
        self.running[attempt] = node

    def snapshot(self) -> dict:
        return dict(self.running)


def run_remote(options: dict, attempt: str, tracker, series: dict | None = None) -> dict:
    import ray

    node = {"node_id": ray.get_runtime_context().get_node_id(), "hostname": socket.gethostname(),
            "ip": ray.util.get_node_ip_address()}
    tracker.started.remote(attempt, node)
    return run_cell(options, node, series)


def failed(exc: Exception, node: dict | None) -> dict:
    return cell_failed(f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}", node)


def execute(sweep: Sweep, cells: list[Cell], retries: int, progress: Progress, ray) -> None:
    """Run the cells on the cluster `ray` is connected to (see connect); the caller disconnects (ray.shutdown)
    after the last round."""
    pending: dict = {}  # ObjectRef -> Cell
    tries: dict[str, int] = {}
    try:
        tracker = ray.remote(num_cpus=0, resources={HEAD: 0.001})(Tracker).remote()
        task = ray.remote(max_retries=0)(run_remote)

        def submit(cell: Cell) -> None:
            nodes = ray.nodes()
            if not any(matches(cell.target, n) for n in nodes):
                sweep.mark(cell, "unplaceable", unplaceable(cell.target, nodes))
                progress.event(sweep.state(cell), "unplaceable", sweep.state(cell)["reason"])
                return
            tries[cell.config_hash] = tries.get(cell.config_hash, 0) + 1
            attempt = f"{cell.config_hash}#{tries[cell.config_hash]}"
            ref = task.options(**placement(cell.target, nodes)).remote(cell.options, attempt, tracker,
                                                                       rounds.block(sweep, cell))
            pending[ref] = cell
            sweep.mark(cell, "queued")

        def attempt_of(cell: Cell) -> str:
            return f"{cell.config_hash}#{tries[cell.config_hash]}"

        for cell in cells:
            submit(cell)
        running: dict = {}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            try:
                running = ray.get(tracker.snapshot.remote(), timeout=10)
            except ray.exceptions.RayError:
                pass  # the table misses nodes for a moment; results do not depend on it
            for ref in ready:
                cell = pending.pop(ref)
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayError as exc:  # node died, worker crashed, task cancelled
                    outcome = failed(exc, running.get(attempt_of(cell)))
                entry = sweep.state(cell)
                settled = sweep.attempt(cell, outcome)
                landed_at = f"{where(outcome['node'])} -> {entry['path']}"
                progress.event(entry, entry["status"], entry["reason"] or landed_at)  # what the sweep settled on
                if not settled and tries[cell.config_hash] <= retries:
                    submit(cell)
            nodes = ray.nodes()
            for ref, cell in list(pending.items()):
                entry = sweep.state(cell)
                node = running.get(attempt_of(cell))
                if node and entry["status"] == "queued":
                    sweep.mark(cell, "running", node=node)
                    progress.event(entry, "running", where(node))
                if not any(matches(cell.target, n) for n in nodes):  # its nodes left while it waited or ran
                    ray.cancel(ref, force=True)
                    pending.pop(ref)
                    sweep.attempt(cell, failed(RuntimeError(unplaceable(cell.target, nodes)), node))
                    sweep.mark(cell, "unplaceable", entry["attempts"][-1]["reason"])
                    progress.event(entry, "unplaceable", entry["reason"])
    except KeyboardInterrupt:
        for ref, cell in pending.items():
            ray.cancel(ref)  # running tasks get KeyboardInterrupt: bench run is stopped and nothing lands
            sweep.mark(cell, "interrupted", "interrupted by Ctrl-C")
        raise
