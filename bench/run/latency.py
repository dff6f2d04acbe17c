"""Per-query latencies for reports: issue and completion times per sample, kept in growable numpy buffers.

Why not LoadGen's own trace (log_settings.enable_trace)? Measured here: about 300 bytes per sample
(14 MB for a 5 s null-backend Offline run, so gigabytes for a 600 s run), and its LogDetail events are
not valid JSON (doubled quotes). LoadGen's percentiles in the record stay the authority; these
latencies, taken on the SUT side around the same points (the issue callback, QuerySamplesComplete),
only draw the distribution. In Server, LoadGen counts from a query's scheduled arrival, so where its issue
thread lags the schedule (a loaded machine) these are shorter than LoadGen's by that lag.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from bench.cache import atomic_write
from bench.errors import UsageError

FILE = "latencies.npy"


class _Buffer:
    """(id, time_ns) pairs appended in blocks; doubles when full, so no Python object per sample is kept."""

    def __init__(self, capacity: int = 1 << 14):
        self.ids = np.empty(capacity, dtype=np.uint64)
        self.t = np.empty(capacity, dtype=np.int64)
        self.n = 0

    def add(self, ids, t_ns: int) -> None:
        k = len(ids)
        if self.n + k > len(self.ids):
            size = max(2 * len(self.ids), self.n + k)
            self.ids = np.resize(self.ids, size)
            self.t = np.resize(self.t, size)
        if k == 1:  # Server and SingleStream: one sample per query; a scalar store costs a third of a slice's
            self.ids[self.n] = ids[0]
            self.t[self.n] = t_ns
        else:
            self.ids[self.n:self.n + k] = ids
            self.t[self.n:self.n + k] = t_ns
        self.n += k


class LatencyRecorder:
    """Issue times from the scenario's issue callback (wrap it), completion times from the Responder."""

    def __init__(self):
        self._issued, self._done = _Buffer(), _Buffer()
        self._lock = threading.Lock()  # completions come from several worker threads

    def wrap(self, issue):
        """The issue callback, timestamped before the scenario sees the query."""
        issued, clock, lock = self._issued, time.perf_counter_ns, self._lock

        def timed_issue(ids: list[int], indices: list[int]):
            t = clock()
            with lock:
                issued.add(ids, t)
            issue(ids, indices)

        return timed_issue

    def completed(self, ids, t_ns: int) -> None:
        with self._lock:
            self._done.add(ids, t_ns)

    def latencies_ms(self) -> np.ndarray:
        """Latency of every completed sample, in milliseconds, ordered by issue time."""
        issued_ids, issued_t = self._issued.ids[:self._issued.n], self._issued.t[:self._issued.n]
        done_ids, done_t = self._done.ids[:self._done.n], self._done.t[:self._done.n]
        order = np.argsort(issued_ids, kind="stable")
        sorted_ids = issued_ids[order]
        pos = np.searchsorted(sorted_ids, done_ids)
        pos = np.minimum(pos, max(len(sorted_ids) - 1, 0))
        hit = (sorted_ids[pos] == done_ids) if len(sorted_ids) else np.zeros(len(done_ids), bool)
        start = issued_t[order][pos[hit]]
        lat = (done_t[hit] - start) / 1e6
        return lat[np.argsort(start, kind="stable")].astype(np.float32)

    def issue_lag(self, perf: dict) -> dict:
        """LoadGen's latency (from each query's scheduled arrival) against the SUT's own (issue callback to
        QuerySamplesComplete): the difference is LoadGen's issue thread running behind its schedule. A run past its
        bound whose SUT-side p99 is within it was made INVALID by that lag (the host), not by the SUT or device."""
        sut = self.latencies_ms().astype(np.float64)
        loadgen = perf.get("latency_ms") or {}
        bound = perf.get("target_latency_ms")
        ours = {"p99": float(np.percentile(sut, 99)), "mean": float(sut.mean())} if len(sut) else {}
        lag = {k: None if loadgen.get(k) is None or k not in ours else round(loadgen[k] - ours[k], 3)
               for k in ("p99", "mean")}
        missed = bound is not None and loadgen.get("p99") is not None and loadgen["p99"] > bound
        cause = None if not (missed and ours and bound is not None) else "issue_lag" if ours["p99"] <= bound else "sut"
        return {"loadgen_ms": {k: loadgen.get(k) for k in ("p99", "mean")},
                "sut_ms": {k: round(v, 3) for k, v in ours.items()}, "lag_ms": lag, "bound_ms": bound,
                "bound_missed_by": cause}

    def save(self, run_dir: Path) -> dict:
        """Write latencies.npy (float32 ms) into the run directory; the record notes it."""
        lat = self.latencies_ms()
        atomic_write(Path(run_dir) / FILE, _npy_bytes(lat))
        return {"file": FILE, "count": int(len(lat)), "unit": "ms",
                "source": "SUT-side: issue callback to QuerySamplesComplete (LoadGen's percentiles are the authority; "
                          "in Server they also count LoadGen's lag behind its schedule)"}


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def load(run_dir: str | Path) -> np.ndarray | None:
    """A run's per-query latencies in ms, as save() wrote them; None where the run has none (older or failed runs)."""
    path = Path(run_dir) / FILE
    if not path.is_file():
        return None
    try:
        lat = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        lat, why = None, str(exc)
    else:
        why = f"a {lat.dtype} array of shape {lat.shape}"
    if lat is None or lat.dtype != np.float32 or lat.ndim != 1:
        raise UsageError(f"{path} is not per-query latencies as bench writes them (1-D float32 ms): {why}. "
                         "Delete it (the report then leaves that run out of the latency chart) or rerun the run")
    return lat.astype(np.float64)
