"""user.conf values are checked against what LoadGen does with them (issue 18), before LoadGen sees them.

The ranges in bench/config/userconf.py rest on LoadGen's behaviour, re-measured here in a child process (LoadGen keeps
global state): if a LoadGen release changes it, these tests say so. Then a hypothesis fuzz of every key through
the real CLI: exit 0 or 2, never a traceback, a signal, a hang, or non-finite JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.config import userconf
from bench.errors import UsageError

PROBE = """
import json, sys, mlperf_loadgen as lg
key, value, scenario, attr = sys.argv[1:]
open("u.conf", "w").write(f"*.{scenario}.{key} = {value}\\n")
ts = lg.TestSettings()
rc = ts.FromConfig("u.conf", "resnet50", scenario, 1)
print(json.dumps([rc, repr(getattr(ts, attr))]))
"""


def _loadgen_reads(tmp_path, key: str, value: str, scenario: str, attr: str) -> str:
    out = subprocess.run([sys.executable, "-c", PROBE, key, value, scenario, attr], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    rc, read = json.loads(out)
    assert rc == 0  # LoadGen accepts every one of these without a word: hence bench's own checks
    return read


@pytest.mark.parametrize("key,attr,value,loadgen_reads", [
    ("min_query_count", "min_query_count", "-1", "18446744073709551615"),
    ("min_query_count", "min_query_count", "1e3", "1"),
    ("min_duration", "min_duration_ms", "12345678901234567890123", "18446744073709551615"),
    ("min_duration", "min_duration_ms", "nan", "0"),
    ("performance_sample_count_override", "performance_sample_count_override", "1.5", "1"),
    ("target_qps", "offline_expected_qps", "inf", "inf"),
    ("target_qps", "offline_expected_qps", "-1", "-1.0"),
])
def test_loadgen_misreads_what_bench_refuses(tmp_path, key, attr, value, loadgen_reads):
    assert _loadgen_reads(tmp_path, key, value, "Offline", attr) == loadgen_reads
    with pytest.raises(UsageError, match=key):
        userconf.parse(f"*.Offline.{key} = {value}\n")


def test_loadgen_ignores_seeds_in_a_user_conf_so_bench_refuses_them(tmp_path):
    default = _loadgen_reads(tmp_path, "qsl_rng_seed", "99", "Offline", "qsl_rng_seed")
    assert default != "99"
    with pytest.raises(UsageError, match="only from mlperf.conf"):
        userconf.parse("*.*.qsl_rng_seed = 99\n")


def test_values_in_range_are_read_by_loadgen_as_written(tmp_path):
    for key, attr, value, read in [("min_query_count", "min_query_count", "0x10", "16"),
                                   ("min_duration", "min_duration_ms", "+2500", "2500"),
                                   ("target_qps", "offline_expected_qps", "1.5e3", "1500.0")]:
        userconf.parse(f"*.Offline.{key} = {value}\n")
        assert _loadgen_reads(tmp_path, key, value, "Offline", attr) == read


KEYS = sorted({*userconf.WHOLE, *userconf.REAL, *userconf.NOT_IN_USER_CONF, "mode", "no_such_key"})
EDGES = ["-1", "0", "1", "+7", "0x10", "1e3", "1.5", "-0", "nan", "inf", "-inf", "1e308", "12345678901234567890123",
         "18446744073709551616", "4294967296", ".5"]
# In-range values are kept small: an in-range value can ask, legitimately, for a run of days (target_qps 0.001).
VALUES = st.one_of(st.sampled_from(EDGES), st.integers(0, 200).map(str),
                   st.floats(1.0, 500.0).map(lambda v: f"{v:.3g}"))


@settings(max_examples=40, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(key=st.sampled_from(KEYS), value=VALUES,
       scenario=st.sampled_from([("offline", "Offline"), ("server", "Server"), ("single-stream", "SingleStream")]),
       wildcard=st.booleans())
def test_every_user_conf_key_exits_0_or_2_through_the_cli(tmp_path_factory, key, value, scenario, wildcard):
    tmp = tmp_path_factory.mktemp("conf")
    conf = tmp / "user.conf"
    conf.write_text(f"*.{'*' if wildcard else scenario[1]}.{key} = {value}\n")
    env = {**os.environ, "BENCH_CACHE": str(tmp / "cache")}
    try:
        proc = subprocess.run([sys.executable, "-m", "bench.cli", "run", "--backend", "null", "--count", "8",
                               "--duration", "0.5", "--scenario", scenario[0], "--user-conf", str(conf),
                               "--output", str(tmp / "r"), "--json"], capture_output=True, text=True, env=env,
                              timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"hung with {conf.read_text()!r}")
    said = proc.stdout + proc.stderr
    assert proc.returncode in (0, 2), f"exit {proc.returncode} with {conf.read_text()!r}:\n{said[-2000:]}"
    assert "Traceback" not in said
    if proc.returncode == 2:
        assert "user.conf:1" in said or "would need about" in said, said[-2000:]
    else:
        def refuse(name):
            raise AssertionError(f"{name} in the JSON record")

        record = json.loads(proc.stdout, parse_constant=refuse)
        assert record["status"] == "complete"
