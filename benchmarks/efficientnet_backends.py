"""Accuracy mode of the trained EfficientNet-Lite0 through every available CPU backend, via LoadGen.

Each backend runs `bench run --model efficientnet-lite0 --mode accuracy` on the same images; prints top-1,
its 95% Wilson interval and the subset verdict per backend, then the spread in images. Usage:
    python benchmarks/efficientnet_backends.py [DATASET_DIR] [BACKEND ...]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from rich.console import Console

from bench import backends
from bench.config.run_config import RunConfig
from bench.run import harness
from bench.system.sysinfo import collect

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "imagenet-val-sample"
BACKENDS = ("torch", "onnxruntime", "openvino", "torch-compile")


def main() -> None:
    dataset = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    names = sys.argv[2:] or [b for b in BACKENDS if backends.probe(b).available]
    print(f"EfficientNet-Lite0 accuracy on {dataset} - CPU: {collect(None).get('cpu')}")
    correct = {}
    with tempfile.TemporaryDirectory() as out:
        for name in names:
            cfg = RunConfig(backend=name, model="efficientnet-lite0", dataset=str(dataset), mode="accuracy",
                            scenario="offline", output=out)
            acc = harness.run(cfg, Console(stderr=True, quiet=True))["accuracy"]
            low, high = acc["interval_95"]
            correct[name] = acc["correct"]
            print(f"  {name:14s} top-1 {acc['top1']:.4f} ({acc['correct']}/{acc['count']}), 95% CI "
                  f"{low:.4f}-{high:.4f}, threshold {acc['threshold_top1']:.4f}: {acc['verdict']}"
                  f"{' (subset)' if acc['subset'] else ''}")
    print(f"spread across backends: {max(correct.values()) - min(correct.values())} image(s)")


if __name__ == "__main__":
    main()
