"""Preprocessing profiles against references computed here independently (numpy resampling), and odd image modes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.data.preprocessing import PROFILES, load_rgb, preprocess
from tests.conftest import TEST_DATA

IMAGE = TEST_DATA / "imagenet" / "ILSVRC2012_val_00000001.JPEG"  # 496x368: landscape, odd crop offsets


def _weights(n_in: int, n_out: int, kernel: str) -> np.ndarray:
    """[n_out, n_in] resampling matrix: box (area) or triangle (bilinear), widened by the scale when shrinking."""
    scale = n_in / n_out
    support = (0.5 if kernel == "box" else 1.0) * max(scale, 1.0)
    w = np.zeros((n_out, n_in))
    for i in range(n_out):
        center = (i + 0.5) * scale
        lo, hi = int(max(np.floor(center - support), 0)), int(min(np.ceil(center + support), n_in))
        x = (np.arange(lo, hi) + 0.5 - center) / max(scale, 1.0)
        # box: each source pixel whose centre falls in the output pixel's span, (-0.5, 0.5] as Pillow's filter
        k = ((x > -0.5) & (x <= 0.5)).astype(float) if kernel == "box" else np.clip(1 - np.abs(x), 0, None)
        w[i, lo:hi] = k / k.sum()
    return w


def _reference(path, kernel: str, short: int, crop: int, crop_round, scale: float, mean, std) -> np.ndarray:
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)  # H, W, 3
    h, w = rgb.shape[:2]
    new_h, new_w = (int(short * h / w), short) if h > w else (short, int(short * w / h))
    # Width first, then height, back to 8 bits after each pass (as Pillow does).
    resized = np.clip(np.round(np.einsum("pw,hwc->hpc", _weights(w, new_w, kernel), rgb)), 0, 255)
    resized = np.clip(np.round(np.einsum("oh,hpc->opc", _weights(h, new_h, kernel), resized)), 0, 255)
    top, left = crop_round((new_h - crop) / 2), crop_round((new_w - crop) / 2)
    pixels = resized[top:top + crop, left:left + crop]
    return ((pixels * scale - np.array(mean)) / np.array(std)).transpose(2, 0, 1)


@pytest.mark.parametrize("profile,kernel,short,crop_round,scale,mean,std", [
    ("torchvision", "triangle", 256, lambda v: int(round(v)), 1 / 255, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ("torchvision-v2", "triangle", 232, lambda v: int(round(v)), 1 / 255, (0.485, 0.456, 0.406),
     (0.229, 0.224, 0.225)),
    ("mlperf", "box", 256, int, 1.0, (123.68, 116.78, 103.94), (1.0, 1.0, 1.0)),
])
def test_profile_matches_independent_reference(profile, kernel, short, crop_round, scale, mean, std):
    got = preprocess(IMAGE, profile)
    want = _reference(IMAGE, kernel, short, 224, crop_round, scale, mean, std)
    assert got.shape == (3, 224, 224) and got.dtype == np.float32
    # One 8-bit level of rounding between Pillow's fixed-point filter and float numpy, nothing more.
    level = scale / min(std)
    assert np.abs(got - want).max() <= 1.01 * level
    assert np.abs(got - want).mean() < 0.3 * level  # most pixels equal, the rest one level off
    # A wrong crop offset, channel order or interpolation would be far off:
    assert np.abs(got - want[::-1]).mean() > 5 * level


def test_profiles_listed():
    assert {"torchvision", "mlperf"} <= set(PROFILES)


def _variants(tmp_path):
    rgb = Image.open(IMAGE).convert("RGB")
    gray = rgb.convert("L")
    gray.save(tmp_path / "gray.jpg", quality=95)
    rgb.convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    rgba = rgb.convert("RGBA")
    rgba.putalpha(128)
    rgba.save(tmp_path / "rgba.png")
    Image.fromarray(np.asarray(gray, dtype=np.uint16) * 257).save(tmp_path / "gray16.png")  # 16-bit PNG
    gray.save(tmp_path / "gray8.png")
    return rgb, gray


def test_odd_modes_become_rgb(tmp_path):
    rgb, gray = _variants(tmp_path)
    g = np.asarray(load_rgb(tmp_path / "gray.jpg"))
    assert g.shape[2] == 3 and (g[..., 0] == g[..., 1]).all() and (g[..., 1] == g[..., 2]).all()
    cmyk = np.asarray(load_rgb(tmp_path / "cmyk.jpg"), dtype=float)
    assert np.abs(cmyk - np.asarray(rgb, dtype=float)).mean() < 6  # same picture, not inverted or garbled
    assert (np.asarray(load_rgb(tmp_path / "rgba.png")) == np.asarray(rgb)).all()
    # 16-bit PNG: scaled to 8 bits, not clipped to white.
    assert Image.open(tmp_path / "gray16.png").mode.startswith("I")
    assert (np.asarray(load_rgb(tmp_path / "gray16.png")) == np.asarray(load_rgb(tmp_path / "gray8.png"))).all()
    for name in ("gray.jpg", "cmyk.jpg", "rgba.png", "gray16.png"):
        assert preprocess(tmp_path / name, "mlperf").shape == (3, 224, 224)


# EXIF orientation -> the transposition that turns the stored pixels upright (EXIF 2.3, tag 0x0112).
UPRIGHT = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
           4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270,
           7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}


@pytest.mark.parametrize("orientation", sorted(UPRIGHT))
def test_mlperf_applies_exif_orientation_as_the_references_cv2_imread_does(tmp_path, orientation):
    """The MLPerf reference reads with cv2.imread, which turns a JPEG upright by its EXIF tag: so does `mlperf`.
    torchvision's and TF's readers ignore the tag, and so do their profiles."""
    rng = np.random.default_rng(orientation)
    pixels = np.kron(rng.integers(0, 256, (6, 9, 3)), np.ones((40, 40, 1))).astype(np.uint8)  # 240x360, blocks
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.jpg"
    Image.fromarray(pixels).save(path, quality=95, exif=exif)
    with Image.open(path) as tagged:
        assert tagged.getexif()[0x0112] == orientation
        stored = np.asarray(tagged.convert("RGB"))  # the decoded pixels, as stored (no tag applied)
    turn = UPRIGHT[orientation]
    upright = Image.fromarray(stored) if turn is None else Image.fromarray(stored).transpose(turn)
    as_stored = Image.fromarray(stored)  # in-memory images carry no EXIF: preprocessed as they are
    np.testing.assert_array_equal(preprocess(path, "mlperf"), preprocess(Image.fromarray(np.asarray(upright)),
                                                                          "mlperf"))
    for profile in ("torchvision", "tf-efficientnet-lite"):
        np.testing.assert_array_equal(preprocess(path, profile), preprocess(as_stored, profile))
    if orientation != 1:  # the tag changes what mlperf sees
        assert not np.array_equal(preprocess(path, "mlperf"), preprocess(as_stored, "mlperf"))
    assert PROFILES["mlperf"].describe()["exif_orientation"] is True
