"""ImageNet dataset: val_map parsing, the preprocessing cache (reused, decodes nothing), bad inputs exit 2 naming the file."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from PIL import Image

from bench.data.imagenet import ImageNetDataset, read_val_map
from bench.data.preprocessing import preprocess
from bench.errors import UsageError
from tests.conftest import TEST_DATA, only_run

IMAGES = TEST_DATA / "imagenet"


def _copy(tmp_path, n: int = 4):
    """A dataset dir with the first n real images; returns (dir, [(name, label)])."""
    d = tmp_path / "ds"
    d.mkdir()
    entries = read_val_map(IMAGES / "val_map.txt")[:n]
    for name, _ in entries:
        shutil.copy(IMAGES / name, d / name)
    (d / "val_map.txt").write_text("".join(f"{n} {l}\n" for n, l in entries))
    return d, entries


def test_read_val_map():
    entries = read_val_map(IMAGES / "val_map.txt")
    assert len(entries) == 40 and entries[0] == ("ILSVRC2012_val_00000001.JPEG", 65)


@pytest.mark.parametrize("text,where,what", [
    ("a.JPEG 1\nb.JPEG\n", ":2:", "expected '<image path> <label>'"),
    ("a.JPEG 1\nb.JPEG x\n", ":2:", "not an integer"),
    ("a.JPEG 1000\n", ":1:", "outside 0..999"),
    ("a.JPEG -1\n", ":1:", "outside 0..999"),
])
def test_val_map_errors_name_file_and_line(tmp_path, text, where, what):
    path = tmp_path / "val_map.txt"
    path.write_text(text)
    with pytest.raises(UsageError) as exc:
        read_val_map(path)
    assert f"{path}{where}" in str(exc.value) and what in str(exc.value)


def test_cache_reused_and_second_run_decodes_nothing(tmp_path):
    d, entries = _copy(tmp_path)
    first = ImageNetDataset.prepare(d, d / "val_map.txt", entries, "mlperf")
    assert not first.cache_hit and first.decoded == 4
    expected = np.stack([preprocess(d / n, "mlperf") for n, _ in entries])
    assert np.array_equal(np.stack([first.sample(i) for i in range(4)]), expected)
    # Overwrite an image with garbage of the same size and mtime: a decode now would fail loudly.
    target = d / entries[2][0]
    st = target.stat()
    target.write_bytes(b"\0" * st.st_size)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    second = ImageNetDataset.prepare(d, d / "val_map.txt", entries, "mlperf")
    assert second.cache_hit and second.decoded == 0
    assert np.array_equal(second.sample(2), expected[2])
    assert list(second.labels()) == [l for _, l in entries]
    # Another profile is another cache entry.
    with pytest.raises(UsageError, match="cannot decode"):
        ImageNetDataset.prepare(d, d / "val_map.txt", entries, "torchvision")


def _bad_dataset(tmp_path, case: str):
    d, entries = _copy(tmp_path, 3)
    vm = d / "val_map.txt"
    bad = d / entries[1][0]
    if case == "missing_val_map":
        vm.unlink()
        return d, vm
    if case == "malformed":
        vm.write_text(vm.read_text() + "just-a-name\n")
        return d, vm
    if case == "label_range":
        vm.write_text(vm.read_text() + f"{entries[0][0]} 1000\n")
        return d, vm
    if case == "missing_image":
        bad.unlink()
    elif case == "zero_byte":
        bad.write_bytes(b"")
    elif case == "undecodable":
        bad.write_bytes(b"this is not a JPEG" * 100)
    return d, bad


@pytest.mark.parametrize("case", ["missing_val_map", "malformed", "label_range", "missing_image", "zero_byte",
                                  "undecodable"])
def test_bad_input_exits_2_naming_the_file(tmp_path, bench_cli, results_dir, case):
    d, named = _bad_dataset(tmp_path, case)
    result = bench_cli("run", "--backend", "null", "--dataset", d, "--count", "3" if case != "malformed" else "4",
                       "--output", results_dir)
    assert result.exit_code == 2, result.output
    assert str(named) in result.output


def test_skip_bad_counts_and_odd_modes_go_through(tmp_path, bench_cli, results_dir):
    d, entries = _copy(tmp_path, 3)
    (d / entries[1][0]).write_bytes(b"")  # zero-byte
    rgb = Image.open(IMAGES / entries[0][0]).convert("RGB")
    rgb.convert("L").save(d / "gray.JPEG")
    rgb.convert("CMYK").save(d / "cmyk.JPEG")
    with open(d / "val_map.txt", "a") as f:
        f.write(f"gray.JPEG {entries[0][1]}\ncmyk.JPEG {entries[0][1]}\nmissing.JPEG 3\n")
    result = bench_cli("run", "--backend", "null", "--dataset", d, "--skip-bad", "--duration", "0.5",
                       "--output", results_dir)
    assert result.exit_code == 0, result.output
    ds = only_run(results_dir)["dataset"]
    assert ds["lines"] == 6 and ds["count"] == 4 and ds["skipped_bad"] == 2
    assert {b["file"].rsplit("/", 1)[1] for b in ds["bad"]} == {entries[1][0], "missing.JPEG"}


def test_skip_bad_count_is_the_first_n_usable_images(tmp_path, bench_cli, results_dir):
    d, entries = _copy(tmp_path, 5)
    (d / entries[1][0]).write_bytes(b"")  # line 2 undecodable
    (d / entries[3][0]).unlink()  # line 4 missing
    result = bench_cli("run", "--backend", "null", "--dataset", d, "--skip-bad", "--count", "3", "--duration", "0.5",
                       "--output", results_dir)
    assert result.exit_code == 0, result.output
    record = only_run(results_dir)
    ds = record["dataset"]
    assert ds["count"] == 3 and ds["lines"] == 5 and ds["skipped_bad"] == 2  # lines 1, 3 and 5 measured
    assert {b["line"] for b in ds["bad"]} == {2, 4}
    short = bench_cli("run", "--backend", "null", "--dataset", d, "--skip-bad", "--count", "4",
                      "--output", tmp_path / "short")
    assert short.exit_code == 2
    assert "--count 4" in short.output and "only 3 usable images" in short.output


def test_count_larger_than_dataset(bench_cli, results_dir):
    result = bench_cli("run", "--backend", "null", "--dataset", IMAGES, "--count", "41", "--output", results_dir)
    assert result.exit_code == 2 and "larger than the dataset" in result.output
