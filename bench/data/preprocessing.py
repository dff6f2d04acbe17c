"""Image preprocessing profiles: decode with Pillow, resize, center-crop, normalize to float32 CHW.

Two profiles, because a checkpoint only scores its published top-1 with the preprocessing it was
trained with, and a mismatch costs accuracy without any error:

- `torchvision`: short side to size/0.875 (256 for 224) with bilinear (antialiased) resampling,
  center crop with torchvision's rounding, scale to [0, 1], subtract mean and divide by std.
- `mlperf`: the MLPerf reference for `resnet50_v1.onnx`: short side to size/0.875 with area
  resampling (cv2.INTER_AREA in the reference; Pillow's BOX filter here), crop with the reference's
  truncating offsets, keep 0..255, subtract the per-channel mean, no std. The reference reads each image
  with cv2.imread (mlcommons/inference vision/classification_and_detection/python/imagenet.py), which turns
  it upright by its EXIF orientation tag; this profile does the same (Pillow's ImageOps.exif_transpose). The
  other references decode with PIL or TF, which ignore the tag, and so do their profiles.
- `tf-efficientnet-lite`: what EfficientNet-Lite's weights were trained and evaluated with (tensorflow/tpu,
  models/official/efficientnet: preprocessing.py `_decode_and_center_crop`, lite/efficientnet_lite_builder.py
  MEAN_RGB/STDDEV_RGB): crop the center square of side int(224/(224+32) x short side) from the *original*
  image (offsets rounded up), then resize that square to 224x224 with TF1's `resize_bicubic` (Keys cubic
  a=-0.75, no half-pixel centers, no antialiasing), keep 0..255 floats, (x - 127) / 128.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

# The crop is 87.5% of the resized short side (224 of 256), in both references.
CROP_FRACTION = 0.875


@dataclass(frozen=True)
class Profile:
    name: str
    resample: Image.Resampling
    scale: float  # pixels are multiplied by this before the mean is taken off
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    description: str
    crop_fraction: float = CROP_FRACTION  # crop size / resized short side
    crop_first: bool = False  # TF-style: crop the original, then resize the crop to size x size
    exif_orientation: bool = False  # turn the image upright by its EXIF tag first, as cv2.imread does


    def resize_short(self, size: int) -> int:
        return int(round(size / self.crop_fraction))

    def describe(self) -> dict:
        return {"name": self.name, "resample": self.resample.name.lower(), "scale": self.scale,
                "mean": list(self.mean), "std": list(self.std),
                "resize_short_side": None if self.crop_first else self.resize_short(224),
                "crop": 224, "crop_first": self.crop_first, "exif_orientation": self.exif_orientation,
                "description": self.description}


PROFILES: dict[str, Profile] = {
    "torchvision": Profile(
        "torchvision", Image.Resampling.BILINEAR, 1 / 255, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225),
        "bilinear resize of the short side to 256, center crop 224, [0,1], ImageNet mean/std"),
    "mlperf": Profile(
        "mlperf", Image.Resampling.BOX, 1.0, (123.68, 116.78, 103.94), (1.0, 1.0, 1.0),
        "EXIF orientation applied, area resize of the short side to 256, center crop 224, 0..255 minus mean "
        "[123.68, 116.78, 103.94]", exif_orientation=True),
    # torchvision's IMAGENET1K_V2 weights were evaluated (80.858%) with the short side at 232, not 256.
    "torchvision-v2": Profile(
        "torchvision-v2", Image.Resampling.BILINEAR, 1 / 255, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225),
        "bilinear resize of the short side to 232, center crop 224, [0,1], ImageNet mean/std", 224 / 232),
    # EfficientNet-Lite (TF): see the module docstring for the source of each step.
    "tf-efficientnet-lite": Profile(
        "tf-efficientnet-lite", Image.Resampling.BICUBIC, 1.0, (127.0, 127.0, 127.0), (128.0, 128.0, 128.0),
        "TF EfficientNet eval: center crop 224/256 of the short side from the original, TF1 resize_bicubic "
        "(a=-0.75, legacy pixel centers, no antialias) to 224x224, (x - 127) / 128", crop_first=True),
}


def get_profile(name: str) -> Profile:
    from bench.errors import UsageError

    if name not in PROFILES:
        raise UsageError(f"unknown preprocessing profile {name!r}: choose one of {', '.join(PROFILES)}")
    return PROFILES[name]


# Bounds checked from the header, before decoding or resizing. Pillow's own guard counts decoded pixels only,
# but resizing a 1x10000 image's short side to 256 makes 256x2,560,000 (2.6 GB): the aspect ratio bounds that.
MAX_PIXELS = 89_478_485  # Pillow's warning threshold (a 0.25 GB RGB image); the largest ImageNet image is 8 Mpx
MAX_ASPECT = 50  # long side / short side; ImageNet's most extreme validation image is about 8:1


class ImageRefused(ValueError):
    """An image whose size would take unbounded memory to decode or resize."""


def check_size(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise ImageRefused(f"image is {width}x{height} pixels: empty")
    if width * height > MAX_PIXELS:
        raise ImageRefused(f"image is {width}x{height} pixels, over the {MAX_PIXELS:,}-pixel bound "
                           "(a decompression bomb?): shrink it")
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageRefused(f"image is {width}x{height} pixels, an aspect ratio over {MAX_ASPECT}:1: resizing its "
                           "short side would take unbounded memory; crop it")


def load_rgb(path_or_image: str | Path | Image.Image, upright: bool = False) -> Image.Image:
    """An 8-bit RGB image from a file or a Pillow image: grayscale, CMYK, palette, RGBA, 16-bit become RGB;
    with `upright`, turned by its EXIF orientation tag (as cv2.imread does).

    Raises OSError/ValueError (from Pillow) for files it cannot decode, ImageRefused (a ValueError) for sizes
    past MAX_PIXELS or MAX_ASPECT; callers name the file.
    """
    if isinstance(path_or_image, Image.Image):
        image = path_or_image
        check_size(*image.size)
    else:
        with Image.open(path_or_image) as opened:
            check_size(*opened.size)  # from the header: nothing decoded yet
            opened.load()  # decode now, while the file is open: truncated files fail here, not later
            image = opened
    if upright:
        image = ImageOps.exif_transpose(image)  # a rotated or mirrored copy when the tag says so, else as it is
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit grayscale (PNG): convert("RGB") would clip at 255, turning most pixels white.
        wide = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or wide.max() > 255 else 255.0
        image = Image.fromarray(np.clip(wide * (255.0 / top) + 0.5, 0, 255).astype(np.uint8), "L")
    elif image.mode == "F":
        image = Image.fromarray(np.clip(np.asarray(image), 0, 255).astype(np.uint8), "L")
    if image.mode == "RGBA" or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA").convert("RGB")  # alpha dropped, as torchvision's loader does
    return image if image.mode == "RGB" else image.convert("RGB")


def _resized_size(width: int, height: int, short: int, profile: str) -> tuple[int, int]:
    """(width, height) with the short side at `short`, truncated as each reference does."""
    if profile == "mlperf":  # MLPerf's resize_with_aspectratio: int(short * long / short_side)
        return (short, int(short * height / width)) if height > width else (int(short * width / height), short)
    # torchvision's Resize(int): the long side is int(short * long / short_side) too, equal sides stay equal.
    if width <= height:
        return short, int(short * height / width)
    return int(short * width / height), short


def _crop_box(width: int, height: int, size: int, profile: str) -> tuple[int, int, int, int]:
    if profile == "mlperf":  # int((w - size) / 2): truncation
        left, top = int((width - size) / 2), int((height - size) / 2)
    else:  # torchvision's center_crop: int(round((w - size) / 2))
        left, top = int(round((width - size) / 2.0)), int(round((height - size) / 2.0))
    return left, top, left + size, top + size


@lru_cache(maxsize=64)
def _tf_resize_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of TF1 `resize_bicubic` (align_corners=False, half_pixel_centers=False) on one axis.

    As tensorflow/core/kernels/image/resize_bicubic_op.cc (legacy path): source position out * (in / out),
    Keys cubic with a = -0.75 read from a 1024-step table, neighbours clamped at the edges (their weights add up).
    """
    a, table_size = -0.75, 1024
    x = np.arange(table_size + 1, dtype=np.float64) / table_size
    near = (((a + 2) * x - (a + 3)) * x * x + 1).astype(np.float32)  # |t| in [0, 1]
    x1 = x + 1.0
    far = (((a * x1 - 5 * a) * x1 + 8 * a) * x1 - 4 * a).astype(np.float32)  # |t| in [1, 2]
    scale = np.float32(n_in / n_out)
    weights = np.zeros((n_out, n_in), dtype=np.float32)
    for out in range(n_out):
        src = np.float32(out) * scale
        base = int(np.floor(src))
        offset = int(np.rint((src - base) * table_size))  # lrintf: round half to even, as np.rint
        taps = (far[offset], near[offset], near[table_size - offset], far[table_size - offset])
        for k, w in enumerate(taps):
            weights[out, min(max(base - 1 + k, 0), n_in - 1)] += w
    return weights


def _tf_crop_resize(image: Image.Image, size: int, crop_fraction: float) -> np.ndarray:
    """TF EfficientNet's eval crop and resize (preprocessing.py `_decode_and_center_crop`): HWC float32, 0..255."""
    width, height = image.size
    crop_padding = round(size * (1 / crop_fraction - 1))  # 32 for 224
    side = int(np.float32(size / (size + crop_padding)) * np.float32(min(height, width)))
    top, left = (height - side + 1) // 2, (width - side + 1) // 2
    pixels = np.asarray(image.crop((left, top, left + side, top + side)), dtype=np.float32)
    wy, wx = _tf_resize_weights(side, size), _tf_resize_weights(side, size)
    rows = (wy @ pixels.reshape(side, -1)).reshape(size, side, 3)  # along y, then along x (as TF: separable)
    return np.matmul(wx, rows)  # (size, size, 3): out[o, p] = sum_w wx[p, w] * rows[o, w]


def integer_pixels(profile: str) -> bool:
    """Whether a profile's resized, cropped pixels are integers (uint8 exactly): Pillow resizes an 8-bit image to an
    8-bit image (torchvision, torchvision-v2, mlperf). TF's bicubic resize (tf-efficientnet-lite) yields floats."""
    return not get_profile(profile).crop_first


def pixels(path_or_image: str | Path | Image.Image, profile: str, size: int = 224) -> np.ndarray:
    """One image resized and cropped, before normalisation: HWC uint8 where the profile's resize yields integers
    (integer_pixels), else HWC float32, 0..255. The narrowest form that is exact: normalise() of it is preprocess()."""
    prof = get_profile(profile)
    image = load_rgb(path_or_image, upright=prof.exif_orientation)
    if prof.crop_first:
        return _tf_crop_resize(image, size, prof.crop_fraction).astype(np.float32)
    width, height = _resized_size(*image.size, prof.resize_short(size), profile)
    image = image.resize((width, height), prof.resample)
    image = image.crop(_crop_box(width, height, size, profile))
    return np.asarray(image, dtype=np.uint8)  # HWC, 0..255


def normalise(hwc: np.ndarray, profile: str) -> np.ndarray:
    """Pixels (HWC, uint8 or float32) to the model's float32 CHW: scale, mean, std, in that order and in float32.
    The device-side normalisation (backends/device_input.py) repeats these operations one for one."""
    prof = get_profile(profile)
    mean = np.asarray(prof.mean, dtype=np.float32)
    std = np.asarray(prof.std, dtype=np.float32)
    chw = ((hwc.astype(np.float32) * np.float32(prof.scale) - mean) / std).transpose(2, 0, 1)
    return np.ascontiguousarray(chw, dtype=np.float32)


def integer_pixels_of(chw: np.ndarray, profile: str) -> np.ndarray:
    """The uint8 HWC pixels a float32 sample of an integer_pixels profile was normalised from (the cached samples
    held as uint8 without decoding again). Exact, or ValueError: normalise() of the result is the sample, bit for bit."""
    prof = get_profile(profile)
    mean, std = np.asarray(prof.mean, np.float32), np.asarray(prof.std, np.float32)
    hwc = chw.transpose(1, 2, 0).astype(np.float64)
    found = np.rint((hwc * std + mean) / prof.scale)  # the float32 rounding errors are far below half a level
    out = np.clip(found, 0, 255).astype(np.uint8)
    if not (integer_pixels(profile) and np.array_equal(normalise(out, profile).view(np.uint32), chw.view(np.uint32))):
        raise ValueError(f"this sample is not the {profile} normalisation of 8-bit pixels: it has no exact uint8 form")
    return out


def preprocess(path_or_image: str | Path | Image.Image, profile: str, size: int = 224) -> np.ndarray:
    """One image as float32 CHW (3, size, size), ready for a ResNet-style classifier."""
    return normalise(pixels(path_or_image, profile, size), profile)


__all__ = ["PROFILES", "ImageRefused", "Profile", "get_profile", "integer_pixels", "integer_pixels_of", "load_rgb", "normalise", "pixels",
           "preprocess"]
