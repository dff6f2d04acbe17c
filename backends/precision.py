"""What precisions need beyond a backend (NEEDS: native bf16, a calibration set), and int8 calibration sets with
their cache keys."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from bench.backends.support import Need
from bench.cache import cache_dir, file_sha256
from bench.errors import UsageError
from bench.system.sysinfo import cpu_flags_source, read_cpu_flags

if TYPE_CHECKING:  # numpy only where calibration batches are made: the declarations import without it
    import numpy as np

# CPU flags that mean bf16 matrix arithmetic in hardware (AVX-512 BF16 dot products, or AMX tiles).
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png", ".bmp", ".webp"}
# Post-training quantization needs only a few hundred images; MLPerf's official list has 500.
MAX_CALIBRATION_IMAGES = 500


def native_bf16(flags: set[str] | None = None) -> bool:
    flags = read_cpu_flags() if flags is None else flags
    return any(f in flags for f in NATIVE_BF16_FLAGS)


def lacks_native_bf16(flags: set[str] | None = None) -> str | None:
    """bf16 on a CPU without it would be emulated (converted to fp32 op by op): the reason to refuse, or None."""
    if native_bf16(flags):
        return None
    return (f"this CPU lacks native bf16 ({' or '.join(NATIVE_BF16_FLAGS)} is not in {cpu_flags_source()}), and an "
            "emulated run would not be bf16 performance")


def missing_calibration(options) -> str | None:
    """int8 by post-training static quantization needs a calibration set; a bad one stops here, before loading."""
    if not options.extra.get("calibration"):
        return ("it needs a calibration set for post-training static quantization: pass --calibration DIR (a "
                "directory of images) or --calibration LIST (an image list in MLPerf's calibration-list format, "
                "e.g. cal_image_list_option_1.txt, resolved against --dataset)")
    calibration_images(options.extra["calibration"], options.extra.get("calibration_dataset"))  # bad input: now
    return None


# The needs backends share, named in a Support by key.
NEEDS: dict[str, Need] = {
    "native_bf16": Need(lambda options: lacks_native_bf16(), lacks_native_bf16, " or ".join(NATIVE_BF16_FLAGS)),
    "calibration": Need(missing_calibration, lambda: None, "--calibration"),
}


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
    import numpy as np

    from bench.data.preprocessing import preprocess

    arrays = [np.asarray(preprocess(str(p), profile), dtype=np.float32) for p in images]
    return [np.stack(arrays[i:i + batch_size]) for i in range(0, len(arrays), batch_size)]


def quantized_path(model_id: str, images: list[Path], method: str, profile: str, suffix: str) -> Path:
    """Cache path keyed by the model, the calibration images (names and contents), the method and preprocessing."""
    digest = hashlib.sha256()
    for p in images:
        digest.update(f"{p.name}:{file_sha256(p)}\n".encode())
    return cache_dir("int8") / f"{model_id}-cal{digest.hexdigest()[:12]}-{method}-{profile}{suffix}"
