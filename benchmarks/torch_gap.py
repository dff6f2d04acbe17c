"""Where torch's time goes under bench, against a plain `model(x)` loop, in one process, interleaved.

Each round runs, back to back: a plain loop under inference_mode in both memory formats on a thread of its own
(the model built independently of the backend, one ready batch, no copies), the contiguous one again on the main
thread (slower on the AMD EPYC here: see docs/performance.md), the backend's own predict loop (input conversion and
argmax added), and bench's LoadGen Offline run (batch gathering, LoadGen's threads and the response added). Ratios
are per round against the plain contiguous loop, so a background job slows both sides of a pair alike; medians
and the spread of the pairs are printed. During the LoadGen run, each thread's CPU seconds are read from
/proc/self/task: LoadGen's threads, the workers, torch's OpenMP team, the display.

    python benchmarks/torch_gap.py --model resnet50 --batch-size 8 --seconds 15 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from pathlib import Path

from measure import estimate, load, loadgen, median, raw_loop


def _task_cpu() -> dict[int, tuple[str, float]]:
    """{thread id: (name, CPU seconds so far)} for this process's live threads."""
    tick, out = os.sysconf("SC_CLK_TCK"), {}
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(task.name)] = (stat[stat.index("(") + 1:stat.rindex(")")], (int(fields[11]) + int(fields[12])) / tick)
    return out


class ThreadCpu:
    """CPU seconds per thread name over a block, sampled every 0.2 s (threads that end inside it count too)."""

    def __enter__(self):
        self.before, self.last, self.stop, self.names = _task_cpu(), {}, threading.Event(), {}
        self._names()
        self.sampler = threading.Thread(target=self._sample, name="sampler", daemon=True)
        self.sampler.start()
        return self

    def _sample(self) -> None:
        while not self.stop.wait(0.2):
            self._names()
            self.last.update(_task_cpu())

    def _names(self) -> None:
        # Python threads by their Python name; the rest are native: LoadGen's, torch's OpenMP team.
        self.names.update({t.native_id: t.name for t in threading.enumerate()})

    def __exit__(self, *exc):
        self.stop.set()
        self.sampler.join()
        self.last.update(_task_cpu())
        self.by_name: dict[str, float] = {}
        for tid, (_, s) in self.last.items():
            used = s - self.before.get(tid, ("", 0.0))[1]
            name = self.names.get(tid, "native (LoadGen, OpenMP)")
            name = "offline workers" if name.startswith("offline-") else name
            self.by_name[name] = self.by_name.get(name, 0.0) + used


def plain_loop(torch, model, x, seconds: float) -> float:
    with torch.inference_mode():
        model(x)
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            model(x)
            n += len(x)
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--streams", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    import torch

    from bench import models

    extra = {"streams": args.streams} if args.streams else {}
    loaded = load("torch", model=args.model, batch_size=args.batch_size, threads=args.threads, count=64, extra=extra)
    ran = loaded.backend.describe()
    print(json.dumps({k: ran.get(k) for k in ("threads", "streams", "memory_format")}), flush=True)
    spec = models.resolve(args.model, "synthetic", None, 0)
    plain = models.build_torch(spec)  # its own copy of the weights, same seed
    x = torch.from_numpy(loaded.store.dataset.array[:args.batch_size].copy())
    est = estimate(loaded)
    rates: dict[str, list[float]] = {k: [] for k in ("plain", "plain_cl", "plain_main", "predict", "loadgen")}

    def threaded(fn, *a) -> float:  # bench's inference runs on worker threads; so does this peer
        out: list[float] = []
        worker = threading.Thread(target=lambda: out.append(fn(*a)))
        worker.start()
        worker.join()
        return out[0]

    cpu: dict[str, float] = {}
    for _ in range(args.rounds):
        rates["plain"].append(threaded(plain_loop, torch, plain.to(memory_format=torch.contiguous_format), x,
                                       args.seconds))
        rates["plain_cl"].append(threaded(plain_loop, torch, plain.to(memory_format=torch.channels_last),
                                          x.contiguous(memory_format=torch.channels_last), args.seconds))
        rates["plain_main"].append(plain_loop(torch, plain.to(memory_format=torch.contiguous_format), x,
                                              args.seconds))
        rates["predict"].append(raw_loop(loaded, args.seconds).samples_per_s)
        with ThreadCpu() as used:
            rates["loadgen"].append(loadgen(loaded, est, duration_s=args.seconds)["samples_per_second"])
        for name, s in used.by_name.items():
            cpu[name] = cpu.get(name, 0.0) + s
    loaded.close()
    print(f"{args.model} batch {args.batch_size}, {ran['threads']} threads, {args.rounds} rounds x {args.seconds:g} s")
    for k, v in rates.items():
        pairs = [a / b for a, b in zip(v, rates["plain"])]
        print(f"  {k:9s} median {median(v):8.2f} samples/s   vs plain contiguous {median(pairs):.3f} "
              f"(pairs {min(pairs):.3f}..{max(pairs):.3f})")
    print("  thread CPU seconds during the LoadGen runs: " +
          ", ".join(f"{k} {v:.1f}" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1]) if v >= 0.05))
    print(json.dumps({k: [round(r, 2) for r in v] for k, v in rates.items()}))


if __name__ == "__main__":
    main()
