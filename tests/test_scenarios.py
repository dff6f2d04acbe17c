"""Each scenario owns what it means: the headline is the field MLPerf's submission checker reads (checked against
the detail log parsed here independently), MultiStream runs VALID, tune and views ask the scenario, and no
module outside scenarios/ names one."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from bench import scenarios
from bench.commands import summary
from tests.conftest import ROOT, only_run

# submission_checker/constants.py (mlcommons/inference): the field read per scenario, and its unit as logged.
CHECKER_FIELD = {"offline": ("result_samples_per_second", 1.0), "server": ("result_completed_samples_per_sec", 1.0),
                 "single-stream": ("early_stopping_latency_ss", 1e-6), "multi-stream": ("early_stopping_latency_ms", 1e-6)}
# The null backend answers at once: LoadGen's own cost is all that is timed, so even 662 MultiStream queries are quick.
NULL = ["--backend", "null", "--model", "resnet18", "--count", "64", "--duration", "0.5"]


def detail_values(path: Path) -> dict:
    """The detail log read the way the checker reads it (json per ':::MLLOG ' line), not through bench's reader."""
    values = {}
    for line in path.read_text().splitlines():
        match = re.match(r":::MLLOG (\{.*\})$", line)
        if match:
            entry = json.loads(match.group(1))
            values[entry["key"]] = entry["value"]
    return values


@pytest.mark.parametrize("scenario", sorted(CHECKER_FIELD))
def test_headline_is_the_checkers_field(bench_cli, results_dir, tmp_path, scenario):
    extra = ["--target-qps", "200", "--latency-bound-ms", "1000"] if scenario == "server" else []
    result = bench_cli("run", *NULL, "--scenario", scenario, "--output", results_dir, *extra)
    assert result.exit_code == 0, result.output
    record = only_run(results_dir)
    perf = record["performance"]
    detail = detail_values(results_dir / record["run_id"] / "loadgen" / "performance" / "mlperf_log_detail.txt")
    key, scale = CHECKER_FIELD[scenario]
    assert perf["result_metric"]["key"] == key
    assert perf["valid"], perf["invalid_reasons"]
    assert perf["result_metric"]["value"] == pytest.approx(detail[key] * scale)
    assert perf["result_metric"]["unit"] == ("ms" if scale != 1 else "samples/s")
    assert perf["duration_s"] and perf["duration_s"] > 0
    # The summary names the metric with its unit and direction, and shows no figure twice.
    console = Console(record=True, width=200)
    summary.print_run(record, console)
    text = console.export_text()
    unit = perf["result_metric"]["unit"]
    assert re.search(rf"{re.escape(perf['result_metric']['name'])} \(MLPerf's metric\)[ │]+[0-9.,]+ {unit} "
                     rf"\((higher|lower) is better\)", text), text
    assert len(re.findall(r"^.*samples/s.*$", text, re.M)) == len({f["name"] for f in perf["secondary"]
                                                                  if f["unit"] == "samples/s"}) + 1, text
    if scenario == "server":  # scheduled beside completed, never instead of it
        assert perf["secondary"][0]["key"] == "result_scheduled_samples_per_sec"
        assert perf["secondary"][0]["value"] == pytest.approx(detail["result_scheduled_samples_per_sec"])


def test_multistream_issues_8_samples_per_query_and_is_valid(bench_cli, results_dir):
    result = bench_cli("run", *NULL, "--scenario", "multi-stream", "--output", results_dir)
    assert result.exit_code == 0, result.output
    record = only_run(results_dir)
    perf = record["performance"]
    assert perf["valid"], perf["invalid_reasons"]
    assert perf["samples_per_query"] == 8 and perf["samples"] == 8 * perf["queries"] >= 8 * 662
    assert record["scenario"] == {"name": "multi-stream", "loadgen_name": "MultiStream", "batch_size": 8,
                                  "intent": "latency", "pads_partial_batches": False}
    assert perf["result_metric"]["value"] >= perf["latency_ms"]["p99"] * 0.999  # the estimate bounds p99


def test_multistream_tune_writes_its_target_latency(bench_cli, tmp_path):
    out = tmp_path / "tune"
    result = bench_cli("tune", *NULL, "--scenario", "multi-stream", "--trial-seconds", "0.5", "--fixed", "--output",
                       out)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "tune.json").read_text())
    assert summary["setting"] == "target_latency" and summary["valid"] is True
    assert re.search(r"^resnet18\.MultiStream\.target_latency = [0-9.e-]+$", (out / "user.conf").read_text(), re.M)


def test_every_scenario_declares_what_the_rest_asks():
    for name, cls in scenarios.SCENARIOS.items():
        s = cls()
        assert s.name == name and s.loadgen_scenario is not None and s.submission_dir == s.loadgen_name
        assert s.metric.key and s.metric.unit in ("samples/s", "ms") and s.intent in ("latency", "throughput")
        assert s.tune.conf_key in ("target_qps", "target_latency") and s.suites and s.advice
    assert scenarios.suite("edge") == ["Offline", "SingleStream", "MultiStream"]
    assert scenarios.suite("datacenter") == ["Offline", "Server"]


def test_schema_1_records_are_read_and_named_as_such():
    old = {"schema": 1, "performance": {"result_metric": {"name": "p90_latency_ms", "value": 331.0}}}
    metric = scenarios.headline(old)
    assert metric["value"] == 331.0 and metric["unit"] == "ms" and "schema 1" in metric["name"]
    assert scenarios.headline({"schema": 1, "performance": None}) is None


def test_no_module_outside_scenarios_names_a_scenario():
    """Adding a scenario is one module and one registry line: nothing else may branch on a scenario's name
    (the command line's choices and defaults excepted), nor on LoadGen's enum of them (`lg.TestScenario.X`:
    budget.py's if/elif once gave any new scenario MultiStream's memory estimate)."""
    names = [n for s in scenarios.SCENARIOS.values() for n in (s.name, s.loadgen_name)]
    pattern = "|".join(re.escape(f'"{n}"') for n in names)
    found = subprocess.run(["git", "grep", "-n", "-E", pattern, "--", "bench", "backends", ":!bench/cli.py",
                            ":!bench/config/run_config.py", ":!bench/config/run_config.py", ":!bench/commands"], cwd=ROOT,
                           capture_output=True, text=True)
    assert found.returncode in (0, 1), found.stderr
    assert found.stdout == "", "scenario names outside scenarios/:\n" + found.stdout
    enum = subprocess.run(["git", "grep", "-n", "-F", "TestScenario.", "--", ".", ":!scenarios", ":!tests"], cwd=ROOT,
                          capture_output=True, text=True)
    assert enum.returncode in (0, 1), enum.stderr
    assert enum.stdout == "", "LoadGen's TestScenario named outside scenarios/ (ask the scenario):\n" + enum.stdout


def test_the_guard_sees_the_enum(tmp_path):
    """The pattern above catches what budget.py used to write: a file with it is found by the same grep."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "budget.py").write_text("if ts.scenario == lg.TestScenario.Offline:\n    pass\n")
    subprocess.run(["git", "-C", str(tmp_path), "add", "budget.py"], check=True)
    enum = subprocess.run(["git", "grep", "-n", "-F", "TestScenario.", "--", ".", ":!scenarios", ":!tests"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert "budget.py:1:" in enum.stdout


def loadgen_settings(**fields):
    import mlperf_loadgen as lg

    ts = lg.TestSettings()
    for key, value in fields.items():
        setattr(ts, key, value)
    return ts


def test_the_memory_budget_asks_each_scenario_its_own_count():
    """Each scenario answers for its own settings; none inherits another's (MultiStream from SingleStream, or a
    new scenario from the budget's old `else`)."""
    from bench.run import budget

    for name, cls in scenarios.SCENARIOS.items():
        assert "scheduled_samples" in vars(cls), f"{name} inherits another scenario's memory estimate"
    ten_s = {"min_duration_ms": 10_000, "min_query_count": 1, "max_query_count": 0}
    cases = {  # the settings each scenario reads, and the count they mean
        "offline": ({"offline_expected_qps": 1000.0}, 1000 * 10 * 1.1),
        "server": ({"server_target_qps": 500.0}, 500 * 10),
        "single-stream": ({"single_stream_expected_latency_ns": 2_000_000}, 10 / 0.002),
        "multi-stream": ({"multi_stream_expected_latency_ns": 4_000_000, "multi_stream_samples_per_query": 8},
                         10 / 0.004 * 8),
    }
    assert set(cases) == set(scenarios.NAMES)
    for name, (fields, expected) in cases.items():
        scenario = scenarios.get(name)
        ts = loadgen_settings(scenario=scenario.loadgen_scenario, **ten_s, **fields)
        assert budget.scheduled_samples(ts, scenario) == pytest.approx(expected, rel=1e-6), name
    # The query-count bounds are the budget's, shared: at least min_query_count, at most max_query_count.
    single = scenarios.get("single-stream")
    slow = loadgen_settings(**ten_s, single_stream_expected_latency_ns=5_000_000_000)
    assert budget.scheduled_samples(slow, single) == 2
    slow.min_query_count = 64
    assert budget.scheduled_samples(slow, single) == 64
    fast = loadgen_settings(**{**ten_s, "max_query_count": 100}, single_stream_expected_latency_ns=1_000)
    assert budget.scheduled_samples(fast, single) == 100


def test_a_scenario_that_does_not_say_is_refused_not_guessed():
    from bench.scenarios.base import Scenario

    class Bursty(Scenario):
        name = "bursty"

    with pytest.raises(NotImplementedError, match="bursty"):
        Bursty().scheduled_samples(loadgen_settings(min_duration_ms=1000))


class Echo:  # class id = the sample's own value: shows which sample each answer came from
    name, concurrency = "echo", 2

    def predict(self, batch):
        import numpy as np

        return batch[:, 0].astype(np.int64)


class Store:
    def batch(self, indices, reuse=False):
        import numpy as np

        return np.asarray(indices, dtype=np.float32).reshape(-1, 1)


@pytest.fixture
def answered(monkeypatch):
    """LoadGen's QuerySamplesComplete replaced by a list: the responses the scenario's dispatch sent."""
    import bench.run.sut as sut

    responses: list = []
    monkeypatch.setattr(sut.lg, "QuerySamplesComplete", lambda batch: responses.extend(batch))
    return responses


def test_padding_is_computed_but_never_answered(answered):
    """A GPU Offline run pads its last batch to the shape already warmed: every query answered once, with the
    prediction of its own sample."""
    from bench.run.sut import Responder
    from bench.scenarios.offline import Offline

    responder = Responder(Echo(), Store())
    cfg = type("Cfg", (), {"batch_size": 4, "device": "cuda:0"})()
    dispatcher = Offline().start(responder, cfg)
    dispatcher.issue(list(range(100, 106)), [10, 11, 12, 13, 14, 15])  # 6 samples: a full batch and a partial one
    dispatcher.close()
    assert sorted(r.id for r in answered) == list(range(100, 106))
    assert responder.completed == 6


@pytest.mark.parametrize("name", ["offline", "server"])
def test_each_run_gets_its_own_dispatcher_and_threads(answered, name):
    """tune and audit make several LoadGen runs on one scenario object: each start() owns its own workers and queue,
    so closing one run's dispatch never stops, or waits on, another's, and the scenario object keeps no threads."""
    import threading

    from bench.run.sut import Responder

    scenario = scenarios.get(name)
    cfg = type("Cfg", (), {"batch_size": 2, "device": "cpu", "max_wait_ms": 1.0})()
    responder = Responder(Echo(), Store())
    before = set(threading.enumerate())
    first, second = scenario.start(responder, cfg), scenario.start(responder, cfg)
    assert first.workers is not None and second.workers is not None
    assert first.workers.queue is not second.workers.queue
    assert not set(first.workers.threads) & set(second.workers.threads)
    assert len(first.workers.threads) == Echo.concurrency
    assert not [k for k, v in vars(scenario).items() if isinstance(v, (list, threading.Thread)) or hasattr(v, "put")]
    first.close()
    assert not any(t.is_alive() for t in set(threading.enumerate()) - before if t.name.startswith(name + "-")
                   and t not in second.workers.threads)
    second.issue([7, 8, 9], [1, 2, 3])  # the second run still answers after the first closed
    second.close()
    assert sorted(r.id for r in answered) == [7, 8, 9]
    assert set(threading.enumerate()) - before == set(), "every worker stopped"


def test_single_stream_answers_on_loadgens_thread(answered):
    from bench.run.sut import Responder

    dispatcher = scenarios.get("single-stream").start(Responder(Echo(), Store()), None)
    assert dispatcher.workers is None
    dispatcher.issue([5], [3])
    assert [r.id for r in answered] == [5]
    dispatcher.flush()
    dispatcher.close()


NEW_SCENARIO = '''
import sys

from bench import scenarios
from bench.scenarios.base import Dispatcher
from bench.scenarios.single_stream import SingleStream


class Paced(SingleStream):
    """A scenario bench has never seen: SingleStream's LoadGen settings, dispatched by a module of its own."""

    name = "paced"
    calls = 0

    def scheduled_samples(self, ts):
        Paced.calls += 1
        return super().scheduled_samples(ts)

    def start(self, responder, cfg):
        import numpy as np

        return Dispatcher(lambda ids, indices: responder.run(ids, np.array(indices, dtype=np.int64)))


# What the registry line in scenarios/__init__.py does, done before anything else reads the registry.
scenarios.SCENARIOS = {**scenarios.SCENARIOS, "paced": Paced}
scenarios.NAMES = tuple(scenarios.SCENARIOS)

from bench.cli import cli  # noqa: E402

try:
    cli(sys.argv[1:])
finally:
    print("budget asked paced:", Paced.calls)
'''


def test_a_new_scenario_is_one_module_and_one_registry_line(tmp_path):
    """A scenario class registered in scenarios/ alone is a --scenario choice and runs end to end: the settings,
    the memory budget, the warm-up, the dispatch and the record all ask it, and nothing else names it."""
    script = tmp_path / "new_scenario.py"
    script.write_text(NEW_SCENARIO)
    result = subprocess.run([sys.executable, str(script), "run", *NULL, "--scenario", "paced", "--output",
                             tmp_path / "results"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr + result.stdout
    assert "budget asked paced: 1" in result.stdout
    record = only_run(tmp_path / "results")
    assert record["scenario"]["name"] == "paced" and record["config"]["scenario"] == "paced"
    assert record["performance"]["valid"], record["performance"]["invalid_reasons"]
