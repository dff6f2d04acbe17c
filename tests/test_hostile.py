"""Hostile input (issue 18): images sized to exhaust memory, val_map oddities, damaged caches, ONNX files whose
declared input bench cannot feed, and raw OSErrors. Each drives the real CLI: exit 2 with one line naming the
file and the fix, or a run that does what the file declares and records it."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import TEST_DATA, only_run

NULL = ["--backend", "null", "--duration", "1"]


def _dataset(tmp_path: Path, n: int = 4, name: str = "data") -> Path:
    images = sorted((TEST_DATA / "imagenet").glob("*.JPEG"))[:n]
    root = tmp_path / name
    root.mkdir()
    for image in images:
        shutil.copy(image, root / image.name)
    (root / "val_map.txt").write_text("".join(f"{p.name} {i}\n" for i, p in enumerate(images)))
    return root


def _add(root: Path, name: str, image: Image.Image) -> None:
    image.save(root / name)
    with open(root / "val_map.txt", "a") as f:
        f.write(f"{name} 7\n")


@pytest.mark.parametrize("size,says", [((1, 10000), "aspect ratio over 50:1"), ((10000, 1), "aspect ratio over 50:1"),
                                       ((3000, 2), "aspect ratio over 50:1"), ((400, 300), None)])
def test_images_sized_to_exhaust_memory_are_refused_before_decoding(bench_cli, tmp_path, size, says):
    data = _dataset(tmp_path)
    _add(data, "odd.png", Image.new("L", size, 128))  # a 1x10000 PNG is under 100 bytes on disk
    result = bench_cli("run", *NULL, "--dataset", data, "--output", tmp_path / "r")
    if says is None:  # an ordinary 4:3 image is used
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2, result.output
    assert str(data / "odd.png") in result.output and says in result.output and "crop it" in result.output


def test_decompression_bomb_bound(bench_cli, tmp_path, monkeypatch):
    import bench.data.preprocessing

    monkeypatch.setattr(bench.data.preprocessing, "MAX_PIXELS", 10_000)  # a real bomb needs GBs to make
    data = _dataset(tmp_path, n=0)
    _add(data, "big.png", Image.new("RGB", (200, 100)))
    result = bench_cli("run", *NULL, "--dataset", data, "--output", tmp_path / "r")
    assert result.exit_code == 2 and "200x100 pixels, over the 10,000-pixel bound" in result.output, result.output


def test_val_map_with_a_bom_is_read(bench_cli, tmp_path):
    data = _dataset(tmp_path)
    vm = data / "val_map.txt"
    vm.write_bytes(b"\xef\xbb\xbf" + vm.read_bytes())
    result = bench_cli("run", *NULL, "--dataset", data, "--output", tmp_path / "r")
    assert result.exit_code == 0, result.output
    assert only_run(tmp_path / "r")["dataset"]["count"] == 4


@pytest.mark.parametrize("second", ["{name} 5", "./{name} 5", "{name}  6"])
def test_one_image_under_two_labels_is_refused(refused_run, tmp_path, second):
    data = _dataset(tmp_path)
    first = (data / "val_map.txt").read_text().splitlines()[1]
    name = first.split()[0]
    with open(data / "val_map.txt", "a") as f:
        f.write(second.format(name=name) + "\n")
    out = refused_run("--dataset", data)
    assert f"{data / 'val_map.txt'}:5" in out and "line 2 labels it 1" in out


def test_same_image_twice_under_one_label_is_fine(bench_cli, tmp_path):
    data = _dataset(tmp_path)
    line = (data / "val_map.txt").read_text().splitlines()[0]
    with open(data / "val_map.txt", "a") as f:
        f.write(line + "\n")
    assert bench_cli("run", *NULL, "--dataset", data, "--output", tmp_path / "r").exit_code == 0


@pytest.fixture
def refused_run(bench_cli, tmp_path):
    def run(*args) -> str:
        result = bench_cli("run", *NULL, *args, "--output", tmp_path / "refused")
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
        assert not (tmp_path / "refused").exists() or not list((tmp_path / "refused").iterdir())
        return " ".join(result.output.split())  # rich wraps nothing, but be safe about spaces

    return run


@pytest.mark.parametrize("damage", ["truncate", "append", "header"])
def test_a_damaged_preprocessing_cache_is_rebuilt_and_named(bench_cli, tmp_path, damage, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    data = _dataset(tmp_path)
    args = ("run", *NULL, "--dataset", data, "--output", tmp_path / "r")
    assert bench_cli(*args).exit_code == 0
    (cache,) = (tmp_path / "cache" / "datasets").glob("*.npy")
    whole = cache.read_bytes()
    cache.write_bytes({"truncate": whole[: len(whole) // 2], "append": whole + b"\0" * 100,
                       "header": b"\x93NUMPY garbage" + whole[14:]}[damage])
    result = bench_cli(*args)
    assert result.exit_code == 0, result.output
    assert f"preprocessing cache {cache} is damaged" in " ".join(result.output.split())
    assert cache.read_bytes() == whole  # rebuilt, the same bytes
    runs = [json.loads(p.read_text()) for p in (tmp_path / "r").glob("*/result.json")]
    assert all(r["status"] == "complete" for r in runs) and len(runs) == 2


# ---- ONNX files: the declared input is honoured or refused; class count and identity come from the file ------

def _onnx(path: Path, shape: list, classes: int = 1000) -> Path:
    """A real classifier (global pool + matmul) with the declared input `shape` (NCHW or NHWC)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(0).random((3, classes), dtype=np.float32), "W")
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["p"]), helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("MatMul", ["f", "W"], ["logits"])]
    if shape[-1] == 3:  # NHWC: transpose first, so the file is valid and only its layout is wrong for bench
        nodes.insert(0, helper.make_node("Transpose", ["input"], ["x"], perm=[0, 3, 1, 2]))
    else:
        nodes[0].input[0] = "input"
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


@pytest.mark.parametrize("shape,args,says", [
    ([1, 299, 299, 3], ["--batch-size", "8"], "'input' is declared 1x299x299x3, channels last (NHWC)"),
    (["N", 224, 224, 3], [], "channels last (NHWC)"),
    ([1, 3, 224, 224], ["--batch-size", "8"], "a fixed batch of 1, but this run issues batches of up to 8: "
                                              "pass --batch-size 1 --scenario single-stream"),
    ([4, 3, 224, 224], ["--batch-size", "8", "--scenario", "server"], "pass --batch-size 4"),
    (["N", 1, 224, 224], [], "3-channel RGB"),
    (["N", 3, 224, 200], [], "not square"),
    (["N", 3, 224], [], "declared Nx3x224"),
])
def test_onnx_input_bench_cannot_feed_is_refused(refused_run, tmp_path, shape, args, says):
    pytest.importorskip("onnxruntime")
    model = _onnx(tmp_path / "m.onnx", shape)
    out = refused_run("--backend", "onnxruntime", "--onnx", model, "--count", "8", *args)
    assert f"--onnx {model}" in out and says in out, out


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_onnx_declared_299_runs_at_299_and_is_recorded_from_the_file(bench_cli, tmp_path, backend):
    pytest.importorskip(backend)
    model = _onnx(tmp_path / "inception-ish.onnx", ["N", 3, 299, 299], classes=1000)
    data = _dataset(tmp_path)
    result = bench_cli("run", "--backend", backend, "--onnx", model, "--dataset", data, "--duration", "1",
                       "--batch-size", "2", "--mode", "both", "--output", tmp_path / "r")
    assert result.exit_code == 0, result.output
    record = only_run(tmp_path / "r")
    assert record["model"]["input_shape"] == [3, 299, 299] and record["dataset"]["input_size"] == 299
    assert record["model"]["name"] == "inception-ish.onnx" and len(record["model"]["sha256"]) == 64
    assert record["model"]["declared_inputs"] == [{"name": "input", "shape": ["N", 3, 299, 299]}]


def test_onnx_class_count_comes_from_the_file(bench_cli, refused_run, tmp_path):
    pytest.importorskip("onnxruntime")
    model = _onnx(tmp_path / "ten.onnx", ["N", 3, 224, 224], classes=10)
    data = _dataset(tmp_path, n=12)  # labels 0..11: past a 10-class model's
    out = refused_run("--backend", "onnxruntime", "--onnx", model, "--dataset", data, "--mode", "accuracy")
    assert "outputs 10 classes, but the dataset's labels go up to 11" in out
    result = bench_cli("run", "--backend", "onnxruntime", "--onnx", model, "--count", "8", "--duration", "1",
                       "--output", tmp_path / "perf")  # performance only: allowed, and recorded as 10 classes
    assert result.exit_code == 0, result.output
    assert only_run(tmp_path / "perf")["model"]["num_classes"] == 10


# ---- raw OSErrors become one line naming the path and a fix -----------------------------------------------------

def test_os_errors_name_the_path_and_a_fix(bench_cli, tmp_path, monkeypatch):
    import bench.data.imagenet

    data = _dataset(tmp_path)
    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("")
    monkeypatch.setenv("BENCH_CACHE", str(blocker))
    result = bench_cli("run", *NULL, "--dataset", data, "--output", tmp_path / "r")
    assert result.exit_code == 2 and f"{blocker}/datasets" in result.output and "BENCH_CACHE" in result.output
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bench.data.imagenet.os, "fsync", full)  # the disk fills while the cache is written
    result = bench_cli("run", *NULL, "--dataset", data, "--output", tmp_path / "r")
    assert result.exit_code == 2, result.output
    assert "cannot write the preprocessing cache" in result.output and "Free some space" in result.output
    assert not list((tmp_path / "cache").rglob("*.tmp"))
    monkeypatch.undo()
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))

    assert bench_cli("run", *NULL, "--count", "8", "--output", tmp_path / "r").exit_code == 0
    (tmp_path / "report" / "results.csv").mkdir(parents=True)  # a directory where the report writes a file
    result = bench_cli("report", tmp_path / "r", "--out", tmp_path / "report")
    assert result.exit_code == 2, result.output
    assert "results.csv" in result.output and "directory, not a file" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
