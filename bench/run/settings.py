"""LoadGen's TestSettings for one run: the profile's defaults, then the user.conf, then the command line.

A quick run is sized from the warm-up by its scenario; a user.conf key always beats a profile default, and an
explicit option always beats both.
"""

from __future__ import annotations

import mlperf_loadgen as lg

from bench.config.run_config import QUICK_DURATION_S, RunConfig
from bench.config.userconf import keys_for
from bench.errors import UsageError
from bench.scenarios.base import Estimate

# user.conf keys -> the TestSettings fields they set, for every scenario (each scenario adds its own), so profile
# defaults never override the user's file.
CONF_KEYS = {
    "min_query_count": {"min_query_count"},
    "min_duration_ms": {"min_duration"},
    "performance_sample_count_override": {"performance_sample_count_override"},
}


def test_settings(cfg: RunConfig, scenario, estimate: Estimate, mode: str, perf_count: int) -> lg.TestSettings:
    """Profile defaults, then user.conf, then the command line's explicit options (which win)."""
    ts = lg.TestSettings()
    ts.scenario = scenario.loadgen_scenario
    ts.mode = lg.TestMode.AccuracyOnly if mode == "accuracy" else lg.TestMode.PerformanceOnly
    named: set[str] = set()
    if cfg.profile == "mlperf" or cfg.user_conf:
        # LoadGen applies its built-in mlperf.conf on the first FromConfig call, user.conf on top.
        path, conf_type = (cfg.user_conf, 1) if cfg.user_conf else ("", 0)
        if ts.FromConfig(path, cfg.model, scenario.loadgen_name, conf_type) != 0:
            raise UsageError(f"LoadGen could not read --user-conf {cfg.user_conf}: check its lines' syntax")
        if cfg.user_conf:
            named = keys_for(cfg.user_conf, cfg.model, scenario.loadgen_name)
    else:  # a quick run too takes the seeds of the installed LoadGen's round (bench/mlperf/rounds.py), not zeros
        official = lg.TestSettings()
        official.FromConfig("", cfg.model, scenario.loadgen_name, 0)
        for key in ("qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed"):
            setattr(ts, key, getattr(official, key))
    defaults = {"performance_sample_count_override": perf_count}
    if cfg.profile == "quick":
        defaults.update(min_duration_ms=int(1000 * (cfg.duration_s or QUICK_DURATION_S)),
                        **scenario.quick_settings(cfg, estimate))
    else:
        defaults.update(
            {k: v for k, v in scenario.quick_settings(cfg, estimate).items() if k != "min_query_count"})
    conf_keys = {**CONF_KEYS, **scenario.conf_keys}
    for key, value in defaults.items():
        if not conf_keys.get(key, set()) & named:
            setattr(ts, key, value)
    explicit = scenario.explicit_settings(cfg)
    if cfg.duration_s is not None:
        explicit["min_duration_ms"] = int(cfg.duration_s * 1000)
    for key, value in explicit.items():
        setattr(ts, key, value)
    return ts
