"""bench/stats against known cases: intervals, the ratio's verdict, its false-positive rate and coverage on seeded
synthetic noise, the runs-needed estimate, stability and the configuration id."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.stats import describe, figures, ratio, stability


def test_t_quantiles_match_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    for df in [1, 1.5, 2, 2.7, 3, 4.2, 5, 7.5, 10, 17.3, 29.5, 30, 31, 45.5, 100, 1000]:
        assert describe.t975(df) == pytest.approx(scipy_stats.t.ppf(0.975, df), abs=1e-5), df
    with pytest.raises(ValueError):
        describe.t975(0.5)


def test_identical_samples_have_no_spread():
    summary = describe.describe([250.0] * 5)
    assert summary["stdev"] == 0 and summary["cv"] == 0 and summary["ci95"] == [250.0, 250.0]
    result = ratio.compare([250.0] * 5, [250.0] * 5)
    assert result["ratio"] == 1 and result["verdict"].startswith("not distinguishable") and result["runs_needed"] is None


def test_t_interval_of_a_known_sample():
    summary = describe.describe([1, 2, 3, 4, 5])
    half = 2.7764451 * math.sqrt(2.5) / math.sqrt(5)
    assert summary["mean"] == 3 and summary["median"] == 3 and summary["ci95"] == pytest.approx([3 - half, 3 + half])
    assert summary["ci_method"] == describe.T_METHOD and summary["cv"] == pytest.approx(math.sqrt(2.5) / 3)


def test_percentile_interval_is_order_statistics_with_stated_coverage():
    ten = describe.describe(list(range(1, 11)), "percentile")
    assert ten["ci95"] == [2.0, 9.0] and ten["ci_coverage"] == pytest.approx(0.9785, abs=1e-4)  # j=2 at n=10
    five = describe.describe([5, 1, 4, 2, 3], "percentile")
    assert five["ci95"] == [1.0, 5.0] and five["ci_coverage"] == pytest.approx(0.9375) and "93.8%" in five["note"]
    assert describe.kind_of("early_stopping_latency_ss", "ms") == "percentile"
    assert describe.kind_of("result_samples_per_second", "samples/s") == "mean"


def test_single_run_is_labelled_and_gets_no_interval():
    assert describe.describe([7.0])["ci95"] is None
    result = ratio.compare([100.0], [80.0, 81.0])
    assert result["verdict"] == "single-run" and result["ci95"] is None and result["ratio"] == pytest.approx(80.5 / 100,
                                                                                                            rel=1e-3)
    assert "single-run" in ratio.sentence(result)


def _noise(rng, n, cv=0.05):
    return 1000 * rng.lognormal(0, cv, n)


def test_a_25_percent_slowdown_is_slower_and_covered():
    rng = np.random.default_rng(25)
    covered = 0
    for _ in range(200):
        a, b = _noise(rng, 5), 0.75 * _noise(rng, 5)
        result = ratio.compare(a, b, higher_is_better=True)
        assert result["verdict"] == "slower"
        covered += result["ci95"][0] <= 0.75 <= result["ci95"][1]
    assert covered >= 0.92 * 200  # a 95% interval covers the true ratio
    # the same shift in a latency (lower is better) is slower too
    assert ratio.compare(_noise(rng, 5), 1.25 * _noise(rng, 5), higher_is_better=False)["verdict"] == "slower"
    assert ratio.compare(_noise(rng, 5), 0.75 * _noise(rng, 5), higher_is_better=False)["verdict"] == "faster"


def test_false_positive_rate_on_identical_configurations_is_near_five_percent():
    rng = np.random.default_rng(7)
    trials = 2000
    wrong = sum(not ratio.compare(_noise(rng, 4, 0.2), _noise(rng, 4, 0.2))["verdict"].startswith("not distinguishable")
                for _ in range(trials))
    assert 0.03 * trials <= wrong <= 0.07 * trials  # nominal 5%; the bound fails if the interval were too narrow/wide


def test_runs_needed_follows_the_power_formula_and_suffices():
    assert ratio.runs_needed(0.1, 0.05) == math.ceil(2 * (1.959964 + 0.841621) ** 2 * 0.01 / 0.0025)
    assert ratio.runs_needed(0.1, 0.0) is None
    rng = np.random.default_rng(3)
    result = ratio.compare(_noise(rng, 3, 0.1), 0.93 * _noise(rng, 3, 0.1))
    assert result["verdict"].startswith("not distinguishable") and result["runs_needed"] > 3
    # with the runs it asks for (at the true spread), the same 7% difference is told apart most of the time
    n = ratio.runs_needed(0.1, math.log(0.93))
    told = sum(ratio.compare(_noise(rng, n, 0.1), 0.93 * _noise(rng, n, 0.1))["verdict"] == "slower"
               for _ in range(200))
    assert told >= 0.7 * 200


def test_stability_window():
    assert stability.check([50, 100, 101, 99], 2)["stable"] is True
    unstable = stability.check([100, 120, 80], 5)
    assert unstable["stable"] is False and unstable["spread_percent"] == pytest.approx(20)
    assert stability.check([100, 100], 5)["stable"] is False  # fewer runs than the window: no claim


def test_config_id_ignores_where_a_run_was_written_only():
    cfg = {"backend": "null", "batch_size": 8, "output": "a", "system_name": None, "strict": False}
    same = {**cfg, "output": "elsewhere", "system_name": "box", "strict": True}
    assert figures.config_id(cfg) == figures.config_id(same) and len(figures.config_id(cfg)) == 12
    assert figures.config_id({**cfg, "batch_size": 16}) != figures.config_id(cfg)
