"""Top-1 of the trained EfficientNet-Lite0 (torch fp32) on a labelled image folder under each preprocessing profile.

Shows why the model's profile is `tf-efficientnet-lite`: the other profiles are plausible guesses a user might
make, and each costs accuracy without any error. Usage:
    python benchmarks/efficientnet_preprocessing.py [DATASET_DIR]   (default: ../shared/data/imagenet-val-sample)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from bench import models
from bench.data.imagenet import read_val_map
from bench.data.preprocessing import PROFILES, Profile, preprocess

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "imagenet-val-sample"
# What the first try used: torchvision's resize-256/crop-224 bilinear, with the TF mean and std.
GUESSES = {
    "torchvision resize/crop, (x-127)/128": Profile("guess", PROFILES["torchvision"].resample, 1.0,
                                                    (127.0,) * 3, (128.0,) * 3, "guess"),
}


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    entries = read_val_map(root / "val_map.txt")
    labels = np.array([label for _, label in entries])
    spec = models.resolve("efficientnet-lite0")
    model = models.build_torch(spec)
    torch.set_num_threads(2)
    profiles = {name: name for name in ("tf-efficientnet-lite", "torchvision", "mlperf")}
    for label, prof in GUESSES.items():
        PROFILES["_guess"] = prof
        profiles[label] = "_guess"
    print(f"EfficientNet-Lite0 ({spec.weights}), torch fp32, {len(entries)} images of {root}")
    for label, profile in profiles.items():
        batch = np.stack([preprocess(root / name, profile) for name, _ in entries])
        with torch.inference_mode():
            pred = model(torch.from_numpy(batch)).argmax(1).numpy()
        bgr = None
        if profile == "tf-efficientnet-lite":  # channels reversed, as a BGR mistake would
            with torch.inference_mode():
                bgr = int((model(torch.from_numpy(batch[:, ::-1].copy())).argmax(1).numpy() == labels).sum())
        print(f"  {label:40s} top-1 {int((pred == labels).sum())}/{len(labels)}"
              + (f"   (channels reversed: {bgr}/{len(labels)})" if bgr is not None else ""))


if __name__ == "__main__":
    main()
