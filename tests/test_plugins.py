"""Third-party backends as plugins (docs/plugins.md): a real distribution declaring a `bench.backends` entry point,
built and installed with pip into a directory of its own, then `bench` run in a subprocess with that directory on
PYTHONPATH (importlib.metadata finds the entry point there, as it would in site-packages). bench is not touched.

`bench-backend-echo` runs through every scenario; `bench-backend-broken`'s entry points fail to import, break the
interface or take a built-in's name: each is reported with its package name, and the others still list and run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import backends, scenarios
from tests.conftest import ROOT, TEST_DATA, only_run

ECHO, BROKEN = "bench-backend-echo 0.1.0", "bench-backend-broken 0.2.0"
# A run the echo backend answers in well under a second of LoadGen time (MultiStream's 662 queries included).
QUICK = ["--model", "resnet18", "--count", "64", "--duration", "0.5"]


@pytest.fixture(scope="module")
def plugins(tmp_path_factory) -> Path:
    """Both distributions built from source and installed, offline, into one --target directory."""
    work = tmp_path_factory.mktemp("plugins")
    source = work / "src"
    shutil.copytree(TEST_DATA / "plugin", source)  # pip builds in the source tree: never in tests/data itself
    target = work / "site"
    # Offline: no index, no isolated build env; the test environment's own setuptools builds the wheels.
    built = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                            "--disable-pip-version-check", "--quiet", "--target", str(target),
                            str(source / "bench_backend_echo"), str(source / "bench_backend_broken")],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, f"pip could not build the test plugins (needs setuptools>=61):\n{built.stderr}"
    assert (target / "bench_backend_echo-0.1.0.dist-info" / "entry_points.txt").is_file()
    return target


def bench(plugins: Path, *args) -> subprocess.CompletedProcess:
    """`bench ARGS` as a user's shell runs it, with the plugins' directory on the path (and a wide terminal, so
    table rows stay one line each)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugins), str(ROOT)]), "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "bench.cli", *map(str, args)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def row(output: str, name: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.startswith(f"│ {name} "))
    return [cell.strip() for cell in line.strip("│").split("│")]


def test_bench_backends_lists_where_each_comes_from_and_survives_broken_plugins(plugins):
    listing = bench(plugins, "backends", "--all")
    assert listing.returncode == 0, listing.stderr
    out = listing.stdout
    assert row(out, "echo")[1] == "yes" and row(out, "echo")[-1] == ECHO
    assert row(out, "echo")[-3] == "fp32" and row(out, "echo")[2] == "0.1.0"  # precisions here
    for name in backends.REGISTRY:  # the built-ins are all still listed, and say so
        assert row(out, name)[-1] == "built-in"
    for name in ("broken-import", "broken-base", "broken-methods"):
        assert row(out, name)[1] == "no" and row(out, name)[-1] == BROKEN
    reasons = {line.split(":", 1)[0]: line for line in out.splitlines() if line.startswith("broken-")}
    assert BROKEN in reasons["broken-import"] and "No module named 'vendor_sdk_not_installed'" in reasons["broken-import"]
    assert BROKEN in reasons["broken-base"] and "not a subclass of bench.backends.base.Backend" in reasons["broken-base"]
    assert BROKEN in reasons["broken-methods"] and "does not implement describe, predict" in reasons["broken-methods"]
    assert "reinstall or update bench-backend-broken" in reasons["broken-import"]
    # A plugin may not take a built-in's name: the built-in stays, the plugin's entry is named as ignored.
    assert row(out, "torch")[-1] == "built-in"
    assert f"ignored: torch from {BROKEN} is ignored: the name is taken by the built-in backend" in out


@pytest.mark.parametrize("scenario", scenarios.NAMES)
def test_a_plugin_runs_every_scenario(plugins, tmp_path, scenario):
    extra = ["--target-qps", "200", "--latency-bound-ms", "1000"] if scenarios.get(scenario).has_latency_bound else []
    result = bench(plugins, "run", "--backend", "echo", "--scenario", scenario, *QUICK, *extra,
                   "--output", tmp_path / "results")
    assert result.returncode == 0, result.stderr + result.stdout
    record = only_run(tmp_path / "results")
    assert record["status"] == "complete" and record["config"]["backend"] == "echo"
    assert record["backend"]["package"] == "bench-backend-echo" and record["backend"]["concurrency"] == 2
    assert record["backend"]["batch_size"] == scenarios.get(scenario).backend_batch(
        type("Cfg", (), {"batch_size": record["config"]["batch_size"]})())
    perf = record["performance"]
    assert perf["valid"], perf["invalid_reasons"]
    assert perf["result_metric"]["key"] == scenarios.get(scenario).metric.key and perf["result_metric"]["value"] > 0
    assert perf["samples"] > 0


@pytest.fixture
def on_path(plugins, monkeypatch):
    """The plugins importable in this process too (the refusals below need no subprocess of their own)."""
    monkeypatch.syspath_prepend(str(plugins))
    yield
    for module in [m for m in sys.modules if m.startswith("bench_backend_")]:
        del sys.modules[module]


@pytest.mark.parametrize("name,words", [
    ("broken-import", "cannot be imported (bench_backend_broken.needs_sdk:VendorBackend): ModuleNotFoundError"),
    ("broken-base", "breaks the backend interface"),
    ("broken-methods", "NoPredict does not implement describe, predict"),
])
def test_a_broken_plugin_is_refused_with_its_package_name(on_path, bench_cli, tmp_path, name, words):
    result = bench_cli("run", "--backend", name, *QUICK, "--output", tmp_path / "results")
    assert result.exit_code == 2, result.output
    assert f"backend {name} (from {BROKEN})" in result.output and words in result.output
    assert not (tmp_path / "results").exists(), "refused before a run directory exists"


def test_a_plugin_whose_describe_raises_stops_before_anything_is_timed(on_path, bench_cli, tmp_path):
    result = bench_cli("run", "--backend", "broken-describe", *QUICK, "--output", tmp_path / "results")
    assert result.exit_code == 2, result.output
    assert f"backend broken-describe (from {BROKEN}): describe() raised KeyError" in result.output
    record = only_run(tmp_path / "results")
    assert record["status"] == "failed" and BROKEN in record["error"] and record["performance"] is None


def test_the_base_class_refuses_for_a_plugin_as_for_a_built_in(on_path, bench_cli, tmp_path):
    result = bench_cli("run", "--backend", "echo", "--precision", "fp16", *QUICK, "--output", tmp_path / "results")
    assert result.exit_code == 2, result.output
    assert "backend echo cannot run precision fp16 on cpu: it has no fp16 on any device; it supports: fp32" in \
        result.output  # the one shape of every refusal (backends/base.py), a plugin's as a built-in's
    assert backends.entries()["echo"].origin == ECHO and backends.label("echo") == f"echo (from {ECHO})"


def test_a_probe_that_answers_nonsense_is_an_answer(monkeypatch):
    monkeypatch.setitem(backends.REGISTRY, "probe-none", "tests.faulty_backends:ProbeReturnsNone")
    monkeypatch.setitem(backends.REGISTRY, "probe-raises", "tests.faulty_backends:ProbeRaises")
    assert backends.probe("probe-none") == backends.Availability(
        False, "probe() returned NoneType, not a backends.base.Availability")
    info = backends.probe("probe-raises")
    assert not info.available and info.reason == "probe failed: OSError: /dev/vendor0: no such device"


def test_the_built_ins_keep_the_interface_a_plugin_must():
    """One rule for all: every built-in passes the check a plugin is held to (importing only the light ones)."""
    for name in ("null", "onnxruntime"):
        assert backends.interface_problems(backends.backend_class(name), name) == []
    from bench.backends.null_backend import NullBackend

    assert backends.interface_problems(NullBackend, "nul") == ["NullBackend.name is 'null', but it is registered "
                                                               "as 'nul'"]
    assert json.dumps(backends.entries()["null"].origin) == '"built-in"'


def test_docs_plugins_md_matches_the_interface():
    """docs/plugins.md is tested against the code: every public member of the base class is documented, every
    abstract one as required, the built-in names a plugin may not take are all listed, and its copy of the null
    backend is the module's own code."""
    import re

    from bench.backends.base import Backend

    doc = (ROOT / "docs" / "plugins.md").read_text()
    assert f'[project.entry-points."{backends.GROUP}"]' in doc
    public = [n for n in vars(Backend) if not n.startswith("_")] + ["concurrency", "parallel_devices"]
    undocumented = [n for n in public if f"`{n}" not in doc]
    assert not undocumented, f"Backend members docs/plugins.md does not describe: {undocumented}"
    for method in Backend.__abstractmethods__:
        assert re.search(rf"^\| `{method}\(.*?\| yes", doc, re.M), f"{method} is required: the docs must say so"
    taken = re.search(r"name \((.*?)\) or a name", doc, re.S).group(1)
    assert sorted(re.findall(r"`([^`]+)`", taken)) == sorted(backends.REGISTRY)
    block = doc.split("## The null backend, in full", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    source = (ROOT / "backends" / "null_backend.py").read_text()
    assert block.strip() in source, "docs/plugins.md's null backend is not backends/null_backend.py's code"
