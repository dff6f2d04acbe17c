"""latencies.npy: what LatencyRecorder.save writes, latency.load reads back unchanged; anything else is refused."""

from __future__ import annotations

import time

import numpy as np
import pytest

from bench.errors import UsageError
from bench.run import latency


def recorded(n: int = 50) -> latency.LatencyRecorder:
    """Queries issued through the recorder's real wrapper, completed out of order, one never completed."""
    rec, issued = latency.LatencyRecorder(), []
    issue = rec.wrap(lambda ids, indices: issued.extend(ids))
    for i in range(n):
        issue([i], [i % 7])
    done = time.perf_counter_ns()
    for i in reversed(range(1, n)):  # sample 0 never completes: it has no latency
        rec.completed([i], done + i * 1_000_000)
    assert issued == list(range(n))
    return rec


def test_round_trip_is_exact(tmp_path):
    rec = recorded()
    note = rec.save(tmp_path)
    assert note["file"] == latency.FILE and note["unit"] == "ms" and note["count"] == 49
    back = latency.load(tmp_path)
    np.testing.assert_array_equal(back, rec.latencies_ms().astype(np.float64))
    assert back.dtype == np.float64 and (back > 0).all()
    # Ordered by issue time: sample i completed i ms after `done`, so latencies grow with the issue order.
    assert (np.diff(back) > 0).all()


def test_a_run_without_latencies_gives_none(tmp_path):
    assert latency.load(tmp_path) is None


@pytest.mark.parametrize("content", [b"", b"not a numpy file", "pickle", "int64", "2-D"])
def test_a_file_not_written_by_save_exits_2_naming_it(tmp_path, content):
    path = tmp_path / latency.FILE
    if content == "pickle":
        np.save(path, np.array([{"ms": 1.0}], dtype=object), allow_pickle=True)
    elif content == "int64":
        np.save(path, np.arange(5))
    elif content == "2-D":
        np.save(path, np.ones((2, 3), dtype=np.float32))
    else:
        path.write_bytes(content)
    with pytest.raises(UsageError, match="is not per-query latencies as bench writes them") as error:
        latency.load(tmp_path)
    assert str(path) in str(error.value) and error.value.exit_code == 2
