"""Precision support shared by backends: native-bf16 detection, and int8 calibration sets with their cache keys."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from bench.cache import cache_dir, file_sha256
from bench.errors import BackendUnavailable, UsageError
from bench.system.sysinfo import cpu_flags_source, read_cpu_flags

# CPU flags that mean bf16 matrix arithmetic in hardware (AVX-512 BF16 dot products, or AMX tiles).
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png", ".bmp", ".webp"}
# Post-training quantization needs only a few hundred images; MLPerf's official list has 500.
MAX_CALIBRATION_IMAGES = 500


def native_bf16(flags: set[str] | None = None) -> bool:
    flags = read_cpu_flags() if flags is None else flags
    return any(f in flags for f in NATIVE_BF16_FLAGS)


def require_native_bf16(backend: str, supported_elsewhere: tuple[str, ...], flags: set[str] | None = None) -> None:
    """bf16 on a CPU without it would be emulated (converted to fp32 op by op): refuse rather than sell it as bf16."""
    if not native_bf16(flags):
        raise BackendUnavailable(
            f"backend {backend} cannot run bf16 on this CPU: it lacks native bf16 ({' or '.join(NATIVE_BF16_FLAGS)} "
            f"is not in {cpu_flags_source()}), and an emulated run would not be bf16 performance. On this CPU it "
            f"supports: {', '.join(supported_elsewhere)}"
        )


def refuse_tf32_off_cuda(backend: str, options, supported: str) -> None:
    """TF32 is a CUDA tensor-core format (Ampere and later): on any other device there is nothing to run."""
    if options.precision == "tf32" and not options.device.startswith("cuda"):
        raise BackendUnavailable(f"backend {backend} runs tf32 only on CUDA GPUs (--device cuda); on "
                                 f"{options.device} it supports: {supported}")


def require_calibration(backend: str, options) -> None:
    if not options.extra.get("calibration"):
        raise BackendUnavailable(
            f"--precision int8 on backend {backend} needs a calibration set for post-training static quantization: "
            "pass --calibration DIR (a directory of images) or --calibration LIST (an image list in MLPerf's "
            "calibration-list format, e.g. cal_image_list_option_1.txt, resolved against --dataset)"
        )
    calibration_images(options.extra["calibration"], options.extra.get("calibration_dataset"))  # bad input: now


def calibration_images(spec: str, dataset: str | None = None) -> list[Path]:
    """The calibration images: every image in a directory, or the lines of an MLPerf calibration list.

    A list's lines name images relative to --dataset (as MLPerf's lists name ImageNet val files), else to the
    list's own directory.
    """
    path = Path(spec)
    if path.is_dir():
        images = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise UsageError(f"--calibration {path}: no images (.jpg, .png, ...) in this directory")
        return images[:MAX_CALIBRATION_IMAGES]
    if not path.is_file():
        raise UsageError(f"--calibration {path} does not exist: give a directory of images or an image-list file")
    try:
        names = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
    except UnicodeDecodeError:
        raise UsageError(f"--calibration {path} is not a text image list: give one image file name per line")
    base = Path(dataset) if dataset and dataset != "synthetic" else path.parent
    images = [base / name for name in names[:MAX_CALIBRATION_IMAGES]]
    missing = [str(p) for p in images if not p.is_file()]
    if not images:
        raise UsageError(f"--calibration {path} lists no images")
    if missing:
        raise UsageError(f"--calibration {path} names images that do not exist under {base}: {missing[:3]} "
                         f"({len(missing)} in all). Pass --dataset DIR holding them.")
    return images


def calibration_batches(images: list[Path], profile: str, batch_size: int = 1) -> list[np.ndarray]:
    """Preprocessed exactly as the benchmark's samples are, so quantization ranges match what is measured."""
    from bench.data.preprocessing import preprocess

    arrays = [np.asarray(preprocess(str(p), profile), dtype=np.float32) for p in images]
    return [np.stack(arrays[i:i + batch_size]) for i in range(0, len(arrays), batch_size)]


def quantized_path(model_id: str, images: list[Path], method: str, profile: str, suffix: str) -> Path:
    """Cache path keyed by the model, the calibration images (names and contents), the method and preprocessing."""
    digest = hashlib.sha256()
    for p in images:
        digest.update(f"{p.name}:{file_sha256(p)}\n".encode())
    return cache_dir("int8") / f"{model_id}-cal{digest.hexdigest()[:12]}-{method}-{profile}{suffix}"
