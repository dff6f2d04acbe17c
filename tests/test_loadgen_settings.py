"""How TestSettings are assembled: profile defaults, then user.conf, then explicit options."""

from __future__ import annotations

import pytest

from bench import scenarios
from bench.config.run_config import RunConfig
from bench.config.userconf import parse
from bench.errors import UsageError
from bench.run.settings import test_settings as make_settings
from bench.scenarios.base import Estimate

EST = Estimate(samples_per_second=100.0, single_latency_s=0.01)


def test_quick_profile_offline_uses_warmup_estimate():
    ts = make_settings(RunConfig(), scenarios.get("offline"), EST, "performance", 64)
    assert ts.min_duration_ms == 10_000
    assert ts.offline_expected_qps == pytest.approx(150.0)  # 1.5x over-estimate
    assert ts.performance_sample_count_override == 64


def test_mlperf_profile_applies_official_minimums():
    ts = make_settings(RunConfig(profile="mlperf"), scenarios.get("offline"), EST, "performance", 1024)
    assert ts.min_duration_ms == 600_000 and ts.min_query_count == 24576


def test_user_conf_wins_over_profile_and_cli_wins_over_user_conf(tmp_path):
    conf = tmp_path / "user.conf"
    conf.write_text("# tuned\n*.Server.target_qps = 7.5\nresnet50.Server.min_duration = 3000\n")
    cfg = RunConfig(scenario="server", user_conf=str(conf))
    ts = make_settings(cfg, scenarios.get("server"), EST, "performance", 64)
    assert ts.server_target_qps == pytest.approx(7.5) and ts.min_duration_ms == 3000
    assert ts.server_target_latency_ns == 15_000_000
    ts = make_settings(cfg.replace(target_qps=3.0, duration_s=2.0), scenarios.get("server"), EST, "performance", 64)
    assert ts.server_target_qps == pytest.approx(3.0) and ts.min_duration_ms == 2000


def test_user_conf_parser_names_the_bad_line():
    assert parse("*.Offline.target_qps = 10\n\n# c\n") == [("*", "Offline", "target_qps", "10")]
    with pytest.raises(UsageError, match=r"user.conf:2: .*model.Scenario.key"):
        parse("*.Offline.target_qps = 10\ntarget_qps 12\n")


@pytest.mark.parametrize("field,value", [("batch_size", 0), ("threads", -1), ("target_qps", 0.0),
                                         ("duration_s", -5.0), ("count", 0), ("max_wait_ms", float("inf")),
                                         ("accuracy_threshold", float("nan")), ("batch_size", 8.0)])
def test_numbers_outside_their_range_are_refused(field, value):
    """RunConfig checks what code passes as well as what the CLI does (bench/config/run_config.py's ranges)."""
    with pytest.raises(UsageError, match=r"must be (an integer|a number) .*\(.+\), got"):
        RunConfig(**{field: value})


def test_user_conf_latency_bound_is_not_overridden_by_a_default(tmp_path):
    """Only an explicit --latency-bound-ms beats a user.conf's target_latency; the MLPerf default never does."""
    conf = tmp_path / "user.conf"
    conf.write_text("*.Server.target_latency = 900\n")
    ts = make_settings(RunConfig(scenario="server", user_conf=str(conf)), scenarios.get("server"), EST, "performance", 64)
    assert ts.server_target_latency_ns == 900_000_000
    ts = make_settings(RunConfig(scenario="server", user_conf=str(conf), latency_bound_ms=50.0),
                       scenarios.get("server"), EST, "performance", 64)
    assert ts.server_target_latency_ns == 50_000_000
    ts = make_settings(RunConfig(scenario="server"), scenarios.get("server"), EST, "performance", 64)
    assert ts.server_target_latency_ns == 15_000_000
