"""Cost of recording per-query latencies (bench.run.latency): time per sample for issue + completion, the Server
worst case (one sample per query), and the Offline case (one issue for all samples, completions in batches of 8)."""

from __future__ import annotations

import time

from bench.run.latency import LatencyRecorder

N = 200_000


def main() -> None:
    ids = list(range(1000, 1000 + N))  # LoadGen's FastSUT hands the issue callback lists of ids and indices
    rec = LatencyRecorder()
    issue = rec.wrap(lambda ids, indices: None)
    t = time.perf_counter()
    for i in ids:  # Server: one query, one sample, one completion each
        issue([i], [0])
        rec.completed([i], time.perf_counter_ns())
    server = (time.perf_counter() - t) / N
    rec = LatencyRecorder()
    issue = rec.wrap(lambda ids, indices: None)
    t = time.perf_counter()
    issue(ids, ids)  # Offline: everything at once, answered in batches
    for k in range(0, N, 8):
        rec.completed(ids[k:k + 8], time.perf_counter_ns())
    offline = (time.perf_counter() - t) / N
    t = time.perf_counter()
    lat = rec.latencies_ms()
    finish = time.perf_counter() - t
    print(f"server-like: {server * 1e6:.2f} us per sample (issue + completion, loop included)")
    print(f"offline-like: {offline * 1e6:.2f} us per sample (issue + completion, batch 8, loop included)")
    print(f"matching {len(lat):,} samples at the end: {finish * 1e3:.1f} ms; file {lat.nbytes / N:.0f} bytes per sample")


if __name__ == "__main__":
    main()
