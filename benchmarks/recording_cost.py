"""What per-query latency recording (bench.run.latency) costs inside real LoadGen runs: the null backend on 3x1x1 samples,
SingleStream p50 latency and Offline samples/s (batch 8), with the recorder as the harness uses it against a
recorder that records nothing, interleaved in one process; medians.

    python benchmarks/recording_cost.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json

from measure import estimate, load, loadgen, median

import bench.run.loadgen_run
from bench.run.latency import LatencyRecorder


class NotRecording(LatencyRecorder):
    """Same calls, no work: what the run costs without the recording."""

    def wrap(self, issue):
        return issue

    def completed(self, ids, t_ns: int) -> None:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--duration", type=float, default=2.0)
    args = ap.parse_args()
    result = {}
    for scenario, batch, metric in (("single-stream", 1, "p50_us"), ("offline", 8, "samples_per_s")):
        loaded = load("null", scenario=scenario, batch_size=batch, count=1024, image_size=1, threads=None)
        est = estimate(loaded)
        values: dict[str, list[float]] = {"recording": [], "not_recording": []}
        for _ in range(args.repeats):
            for name, cls in (("recording", LatencyRecorder), ("not_recording", NotRecording)):
                bench.run.loadgen_run.LatencyRecorder = cls
                extra = {"target_qps": 100_000} if scenario == "offline" else {}
                perf = loadgen(loaded, est, duration_s=args.duration, **extra)
                values[name].append(perf["latency_ms"]["p50"] * 1000 if scenario == "single-stream"
                                    else perf["samples_per_second"])
        bench.run.loadgen_run.LatencyRecorder = LatencyRecorder
        row = {k: round(median(v), 1) for k, v in values.items()}
        result[scenario] = {"metric": metric, **row}
        print(f"  {scenario:13s} {metric}: recording {row['recording']:,.1f}, not recording "
              f"{row['not_recording']:,.1f} (median of {args.repeats})", flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
