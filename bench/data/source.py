"""The dataset a run asked for: synthetic, or an ImageNet directory (bench.data.imagenet) preprocessed for the model.

Here, not in dataset.py: imagenet.py builds on dataset.py's Dataset, and choosing between them belongs above both.
"""

from __future__ import annotations

from bench.data.dataset import SYNTHETIC_DEFAULT_COUNT, Dataset, SyntheticDataset
from bench.data.imagenet import ImageNetDataset
from bench.errors import UsageError


def open_dataset(cfg, model) -> Dataset:
    """The dataset a run asked for, preprocessed for `model`."""
    size = cfg.extra.get("null_image_size")  # the option table already refused it on any backend but null
    if size is not None and not cfg.synthetic_data:
        raise UsageError("--null-image-size applies to the null backend on synthetic images only: real images are "
                         "preprocessed to the model's input size; drop the option or use --dataset synthetic")
    if cfg.synthetic_data:
        return SyntheticDataset(cfg.count or SYNTHETIC_DEFAULT_COUNT, size or model.input_size, cfg.seed)
    return ImageNetDataset.open(cfg, model)
