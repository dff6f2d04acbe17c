"""bench sweep --ray on a real multi-node Ray cluster (ray.cluster_utils.Cluster), every process on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Ray swaps 127.0.0.1 for this machine's outward IP unless told this is a one-machine cluster: every node, worker
# and driver below inherits this, and binds to loopback only.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
ray = pytest.importorskip("ray", reason="bench sweep --ray needs the sweep extra: pip install 'bench[sweep]'")
from ray.cluster_utils import Cluster  # noqa: E402

from tests.conftest import FAST_RUN, ROOT  # noqa: E402
from tests.test_sweep_plan import NULL  # noqa: E402  (the same null-backend plan defaults)

LOOPBACK = "127.0.0.1"
# Small nodes: each Ray node is a raylet plus workers; the benchmarks themselves run as their own processes.
NODE = {"num_cpus": 1, "node_ip_address": LOOPBACK, "object_store_memory": 80 * 1024 * 1024}


def nodes(address: str) -> list[dict]:
    """The cluster's nodes as Ray reports them; fails the test if any is on another address than loopback."""
    ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    try:
        found = ray.nodes()
    finally:
        ray.shutdown()
    assert all(n["NodeManagerAddress"] == LOOPBACK for n in found), [n["NodeManagerAddress"] for n in found]
    return found


@pytest.fixture(scope="module")
def cluster():
    cluster = Cluster(initialize_head=True, head_node_args={
        **NODE, "include_dashboard": False, "resources": {"bench_slot": 1, "small": 1}, "labels": {"rack": "a"}})
    cluster.add_node(**NODE, resources={"bench_slot": 1, "big": 1}, labels={"rack": "b"})
    cluster.wait_for_nodes()
    assert len(nodes(cluster.address)) == 2
    yield cluster
    cluster.shutdown()




def plan(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text(text)
    return path


def landed(output: Path) -> list[dict]:
    return [{**json.loads(p.read_text()), "dir": p.parent} for p in output.glob("*/*/[!.]*/cell.json")]


def log(output: Path) -> dict:
    (path,) = output.glob("sweep-*.json")
    return json.loads(path.read_text())


def shape(run_dir: Path) -> set[str]:
    return {str(p.relative_to(run_dir)) for p in run_dir.rglob("*")}


def test_an_unreachable_cluster_exits_2_at_once_and_writes_nothing(bench_cli, tmp_path):
    plan_path = plan(tmp_path, NULL + '[matrix]\nscenario = ["offline"]\n')
    started = time.monotonic()
    result = bench_cli("sweep", plan_path, "--output", tmp_path / "out", "--ray", f"{LOOPBACK}:1")
    assert result.exit_code == 2 and "cannot reach a Ray cluster at 127.0.0.1:1" in result.output
    assert time.monotonic() - started < 30 and not (tmp_path / "out").exists()


def test_cells_land_with_their_node_one_benchmark_per_node_and_unplaceable_is_reported(bench_cli, cluster, tmp_path):
    run = dict(zip(FAST_RUN[::2], FAST_RUN[1::2]))
    torch_run = "\n".join(f'{k.lstrip("-")} = {v if k != "--model" else repr(v)}' for k, v in run.items())
    text = f"""
[matrix]
backend = "null"
model = "resnet18"
count = 16
null-image-size = 1
duration = 0.5
target-qps = 2000
scenario = ["offline", "single-stream"]
[[runs]]
backend = "torch"
{torch_run}
[targets.small]
resources = {{ small = 1 }}
[targets.rack-b]
labels = {{ rack = "b" }}
[targets.h100]
accelerator = "H100"
"""
    output = tmp_path / "ray"
    result = bench_cli("sweep", plan(tmp_path, text), "--output", output, "--ray", cluster.address)
    assert result.exit_code == 1, result.output  # the H100 cells cannot be placed: reported, not hung
    cells = log(output)["cells"]
    h100 = [c for c in cells if c["target"] == "h100"]
    assert len(h100) == 3 and all(c["status"] == "unplaceable" and "accelerator=H100" in c["reason"] for c in h100)
    runs = landed(output)
    assert len(runs) == 6 and all(c["status"] == "complete" for c in cells if c["target"] != "h100")
    by_node = {n["NodeID"]: n for n in nodes(cluster.address)}
    for meta in runs:
        node = by_node[meta["node"]["node_id"]]  # recorded node is a real node of this cluster
        assert meta["node"]["ip"] == LOOPBACK and (meta["dir"] / "result.json").is_file()
        wanted = "small" if meta["target"] == "small" else "big"
        assert wanted in node["Resources"], f"{meta['target']} ran on a node without {wanted}"
        assert meta["software"]["bench_version"] and meta["dir"].parent.parent.name == meta["target"]
    for node_id in by_node:  # never two benchmarks on one node at once
        spans = sorted((m["started_at"], m["finished_at"]) for m in runs if m["node"]["node_id"] == node_id)
        assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:])), spans

    # The local executor's tree has the same shape: <target>/<cell>/<run-id>/ with the same files and fields.
    local_out = tmp_path / "local"
    text = NULL + '[matrix]\nscenario = ["offline"]\n[targets.small]\nhostname = "%s"\n' % os.uname().nodename
    assert bench_cli("sweep", plan(tmp_path, text), "--output", local_out).exit_code == 0
    (local,) = landed(local_out)
    remote = next(m for m in runs if m["target"] == "small" and m["options"] == {**local["options"]})
    assert local["dir"].relative_to(local_out).parts[:2] == remote["dir"].relative_to(output).parts[:2]
    assert shape(local["dir"]) == shape(remote["dir"])
    assert set(local) == set(remote) and set(local["node"]) == set(remote["node"])
    assert set(log(local_out)["cells"][0]) == set(cells[0])


def test_a_node_removed_mid_sweep_fails_its_attempt_with_the_reason_and_the_retry_lands_elsewhere(cluster, tmp_path):
    doomed = cluster.add_node(**NODE, resources={"bench_slot": 1}, labels={"pool": "p"})
    cluster.wait_for_nodes()
    text = NULL.replace("duration = 0.5", "duration = 20") + '[matrix]\nscenario = ["single-stream"]\n' \
        '[targets.pool]\nlabels = { pool = "p" }\n'
    output = tmp_path / "out"
    cmd = [sys.executable, "-m", "bench.cli", "sweep", str(plan(tmp_path, text)), "--output", str(output),
           "--ray", cluster.address, "--retries", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        logs = list(output.glob("sweep-*.json"))
        if logs and json.loads(logs[0].read_text())["cells"][0]["status"] == "running":
            break
        time.sleep(0.3)
    spare = cluster.add_node(**NODE, resources={"bench_slot": 1}, labels={"pool": "p"})  # where the retry can go
    cluster.remove_node(doomed)  # mid-run: SingleStream issues queries for its whole 20 s minimum duration
    text = proc.communicate(timeout=180)[0]
    assert proc.returncode == 0, text
    (cell,) = log(output)["cells"]
    assert len(cell["attempts"]) == 2, cell  # one on the removed node, one retry
    first, second = cell["attempts"]
    assert first["status"] == "failed" and "NodeDiedError" in first["reason"], first
    assert first["node"]["node_id"] == doomed.node_id and first["node"]["ip"] == LOOPBACK
    assert second["status"] == cell["status"] == "complete" and second["node"]["node_id"] == spare.node_id
    (run,) = landed(output)  # only the retry's run: the dead node's attempt left nothing in the tree
    assert run["node"]["node_id"] == spare.node_id and not list(output.glob("pool/*/.landing-*"))
    assert all(n["NodeManagerAddress"] == LOOPBACK for n in nodes(cluster.address))
