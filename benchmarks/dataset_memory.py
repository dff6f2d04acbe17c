"""Peak memory of a performance run against dataset size: a 500-line and a 5,000-line val_map of real images.

The lines repeat the shared real ImageNet images. Each size's cache is built first in its own
process; then a `bench run` performance run is measured (peak RSS of that process, from
getrusage). LoadGen's QSL loads min(1024, N) samples (MLPerf's performance sample count), so a
1,024-line set is measured too: from there on, memory must stay flat.

    python benchmarks/dataset_memory.py [IMAGES_DIR]     (default ../shared/data/imagenet-val-sample)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data" / "imagenet-val-sample"
SIZES = (500, 1024, 5000)
RUN = ["--backend", "onnxruntime", "--model", "resnet18", "--scenario", "offline", "--threads", "1",
       "--batch-size", "8", "--duration", "2"]


def peak_rss_mb(cmd: list[str], env: dict) -> float:
    """Peak RSS of one child process (run alone, so RUSAGE_CHILDREN's max is its own)."""
    code = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)")
    out = subprocess.run([sys.executable, "-c", code, *cmd], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{out.stderr[-2000:]}")
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    lines = [line for line in (IMAGES / "val_map.txt").read_text().splitlines() if line.strip()]
    bench = str(Path(sys.executable).with_name("bench"))
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, BENCH_CACHE=str(Path(tmp) / "cache"))
        results = {}
        for n in SIZES:
            val_map = Path(tmp) / f"val_map_{n}.txt"
            val_map.write_text("\n".join(lines[i % len(lines)] for i in range(n)) + "\n")
            base = [bench, "run", *RUN, "--dataset", str(IMAGES), "--val-map", str(val_map),
                    "--output", str(Path(tmp) / "results")]
            subprocess.run(base[:2] + ["--backend", "null"] + base[4:] + ["--json"], env=env, check=True,
                           capture_output=True)  # builds the preprocessing cache
            results[n] = peak_rss_mb(base, env)
            print(f"{n:6d} lines: peak RSS {results[n]:8.1f} MB")
    print(f"5000 vs 500 lines: {results[5000] / results[500]:.3f}x; 5000 vs 1024 lines: "
          f"{results[5000] / results[1024]:.3f}x")
    print(json.dumps({"peak_rss_mb": results, "ratio_5000_500": results[5000] / results[500],
                      "ratio_5000_1024": results[5000] / results[1024]}))


if __name__ == "__main__":
    main()
