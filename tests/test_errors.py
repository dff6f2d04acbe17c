"""Every bad input in docs/errors.md's table, through the real CLI.

Each case checks the exit code, that the one-line message names the file or the fix, that no traceback is
shown, and that an earlier run in the same results tree is left byte for byte. Also here: a disk filling up
mid-run, INVALID and accuracy FAIL under --strict, and the security basics. The other faults during a run (a
backend raising, Ctrl-C, the first write failing, concurrent runs) are in test_reliability.py.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from bench.data.imagenet import read_val_map
from bench.errors import UsageError
from tests.conftest import TEST_DATA

IMAGES = TEST_DATA / "imagenet"
NULL = ["--backend", "null", "--model", "resnet18", "--duration", "1"]


@dataclass
class Tree:
    out: Path
    earlier: Path  # a finished run directory
    digest: dict  # its files' hashes, which no later command may change

    def runs(self) -> set[Path]:
        return set(self.out.iterdir())


def _digest(run_dir: Path) -> dict:
    return {str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run_dir.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Tree:
    """One results tree for the module, holding a finished run (one run, not one per case: the suite stays fast)."""
    from bench.cli import cli

    out = tmp_path_factory.mktemp("errors") / "results"
    result = CliRunner().invoke(cli, ["run", *NULL, "--count", "8", "--output", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (earlier,) = out.iterdir()
    return Tree(out, earlier, _digest(earlier))


@pytest.fixture
def refused(tree, bench_cli):
    """Run `bench run ARGS --output TREE`; check the exit code, the message, and that the earlier run is intact.

    `leaves_run`: the error is found while loading (a checkpoint or ONNX file the runtime rejects), after the run
    directory exists: it must then hold a record with status failed and the error. Otherwise nothing is left.
    """

    def check(*args, code: int = 2, says: tuple[str, ...] = (), leaves_run: bool = False):
        before = tree.runs()
        result = bench_cli("run", *args, "--output", tree.out)
        assert result.exit_code == code, result.output
        for text in says:
            assert str(text) in result.output, f"{text!r} not in:\n{result.output}"
        assert "Traceback" not in result.output
        if code:
            assert sum(line.lower().startswith("error:") for line in result.output.splitlines()) == 1, result.output
        assert _digest(tree.earlier) == tree.digest, "an earlier result was changed"
        assert not list(tree.out.rglob("*.tmp")), "a temporary file was left behind"
        new = tree.runs() - before
        if code == 0 or leaves_run:
            (run_dir,) = new
            record = json.loads((run_dir / "result.json").read_text())
            if code:
                assert record["status"] == "failed" and record["error"] and record["finished_at"]
            return result, record
        assert not new, f"a refused run left {new}"
        return result, None

    return check


def _dataset(tmp_path: Path, n: int = 3) -> tuple[Path, list[tuple[str, int]]]:
    """A dataset directory holding the first n real images and their val_map."""
    d = tmp_path / "ds"
    d.mkdir()
    entries = read_val_map(IMAGES / "val_map.txt")[:n]
    for name, _ in entries:
        shutil.copy(IMAGES / name, d / name)
    (d / "val_map.txt").write_text("".join(f"{name} {label}\n" for name, label in entries))
    return d, entries


def _tiny_onnx(path: Path) -> Path:
    """A real, valid ONNX classifier (global pool + matmul to 1000 classes): small enough to cut in half."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.random.default_rng(0).random((3, 1000), dtype=np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
         helper.make_node("Flatten", ["pooled"], ["flat"]),
         helper.make_node("MatMul", ["flat", "W"], ["logits"])],
        "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])], [weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


# ---- names and options -----------------------------------------------------------------------------------------

def test_unknown_backend(refused):
    refused("--backend", "nosuch", says=("unknown backend 'nosuch'", "choose one of", "onnxruntime"))


def test_unknown_scenario(refused):
    refused(*NULL, "--scenario", "nosuch", says=("--scenario", "'nosuch' is not one of", "single-stream"))


def test_unknown_model(refused):
    refused(*NULL, "--model", "resnet99", says=("unknown model 'resnet99'", "resnet50"))


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_backend_package_missing(refused):
    refused("--backend", "tensorrt", "--count", "8",
            says=("backend tensorrt is not available", "pip install", "bench[tensorrt]"))


def test_backend_package_missing_onnxruntime(refused, monkeypatch):
    """As on a machine without onnxruntime: the probe finds no package, and the run names the extra to install."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    refused("--backend", "onnxruntime", "--count", "8", says=("onnxruntime is not installed", "bench[onnxruntime]"))


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(_has_cuda(), reason="this machine has CUDA: the refusal is for machines without it")
def test_device_cuda_without_cuda(refused):
    refused("--backend", "torch", "--device", "cuda", "--model", "resnet18", "--count", "8",
            says=("--device cuda", "no such device", "Nothing was run on the CPU instead"))


@pytest.mark.parametrize("backend,precision,says", [
    ("onnxruntime", "bf16", ("cannot run precision bf16", "it supports: fp32")),
    ("torch", "fp16", ("fp16 only on cuda", "it supports: fp32")),
])
def test_precision_the_backend_cannot_run(refused, backend, precision, says):
    refused("--backend", backend, "--precision", precision, "--model", "resnet18", "--count", "8", says=says)


@pytest.mark.parametrize("flag,value,says", [
    ("--batch-size", "0", "--batch-size must be an integer in 1..4,096 (larger batches only exhaust memory"),
    ("--batch-size", "-4", "--batch-size must be an integer in 1..4,096"),
    ("--batch-size", "5000", "got 5000"),
    ("--threads", "0", "--threads must be an integer in 1.."),
    ("--threads", "-1", "4 per core this process may use; more threads only contend for the cores"),
    ("--threads", "100000", "got 100000"),
    ("--target-qps", "0", "--target-qps must be a number > 0 and <= 1,000,000"),
    ("--target-qps", "-10", "--target-qps must be a number > 0"),
    ("--target-qps", "1e9", "LoadGen allocates every query it schedules up front), got 1000000000.0"),
    ("--target-qps", "nan", "got nan"),
    ("--duration", "0", "--duration must be a number > 0 and <= 86,400 (one day"),
    ("--duration", "-1", "--duration must be a number > 0"),
    ("--duration", "inf", "got inf"),
    ("--count", "0", "--count must be an integer in 1..1,000,000"),
    ("--count", "10000000", "got 10000000"),
    ("--max-wait-ms", "inf", "--max-wait-ms must be a number in 0..1,000 (a sample waiting longer than a second"),
    ("--max-wait-ms", "-1", "got -1.0"),
    ("--max-wait-ms", "nan", "got nan"),
    ("--latency-bound-ms", "-inf", "--latency-bound-ms must be a number > 0 and <= 60,000"),
    ("--latency-bound-ms", "1e300", "got 1e+300"),
    ("--accuracy-threshold", "0", "--accuracy-threshold must be a number > 0 and <= 1 (a fraction of the model's"),
    ("--accuracy-threshold", "1.5", "got 1.5"),
    ("--accuracy-threshold", "nan", "got nan"),
    ("--null-image-size", "0", "--null-image-size must be an integer in 1..4,096"),
    ("--gpu-streams", "65", "--gpu-streams must be an integer in 1..64"),
    ("--batch-size", "eight", "'eight' is not a valid integer"),
    ("--count", "1e3", "'1e3' is not a valid integer"),
])
def test_numbers_outside_their_range(refused, flag, value, says):
    """Every number is finite and within a stated range, and the message says the range and why (bench/config/run_config.py)."""
    refused(*NULL, flag, value, says=(says,))


@pytest.mark.parametrize("args,says", [
    (("--backend", "onnxruntime", "--device", "cuda", "--gpu-streams", "2"),
     "--gpu-streams applies to the torch and tensorrt backends only, not onnxruntime"),
    (("--backend", "onnxruntime", "--device", "cuda", "--cuda-graphs"), "--cuda-graphs applies to the torch backend only, not onnxruntime"),
    (("--backend", "torch", "--compile-mode", "max-autotune"), "--compile-mode applies to the torch-compile backend only"),
    (("--backend", "torch", "--device", "cuda", "--ort-provider", "tensorrt"), "--ort-provider applies to the onnxruntime backend only"),
    (("--backend", "torch", "--precision", "int8", "--calibration", "cal"),
     "--calibration applies to the onnxruntime, openvino and tensorrt backends only, not torch"),
    (("--backend", "onnxruntime", "--null-image-size", "4"), "--null-image-size applies to the null and remote backends only"),
])
def test_option_the_backend_does_not_honour(refused, args, says):
    """Never silently ignored: exit 2 naming the backends that honour the option (their declarations; an option
    that needs CUDA is asked on cuda, else the table's device check speaks first)."""
    refused(*args, "--model", "resnet18", "--count", "8", says=(says, "Nothing is ignored silently"))


@pytest.mark.parametrize("args,says", [
    (("--backend", "torch", "--cuda-graphs"), "--cuda-graphs needs --device cuda (a CUDA graph is captured and replayed"),
    (("--backend", "torch", "--gpu-streams", "2"), "--gpu-streams needs --device cuda (streams are a CUDA GPU's"),
    (("--backend", "onnxruntime", "--ort-provider", "cuda"), "--ort-provider needs --device cuda (both are GPU"),
    (("--backend", "torch", "--precision", "tf32"), "--precision tf32 needs --device cuda (TensorFloat-32"),
    (("--backend", "onnxruntime", "--calibration", "cal"), "--calibration applies to --precision int8 only, not fp32"),
])
def test_option_the_device_or_precision_cannot_use(refused, args, says):
    """Options that need a CUDA device (or int8) are refused elsewhere, with the reason."""
    refused(*args, "--model", "resnet18", "--count", "8", says=(says,))


def test_tune_and_audit_refuse_what_run_refuses(bench_cli, tmp_path):
    """The three commands share the option table, so its checks too."""
    for command in (("tune", "--scenario", "server"), ("audit", "TEST04")):
        result = bench_cli(*command, "--backend", "onnxruntime", "--device", "cuda", "--gpu-streams", "2",
                           "--output", tmp_path)
        assert result.exit_code == 2 and "--gpu-streams applies to the torch and tensorrt backends" in result.output
    result = bench_cli("tune", "--scenario", "server", *NULL, "--trial-seconds", "nan", "--output", tmp_path)
    assert result.exit_code == 2 and "--trial-seconds must be a number > 0 and <= 600" in result.output
    assert not list(tmp_path.iterdir())


# ---- model files -----------------------------------------------------------------------------------------------

def test_missing_onnx_file(refused, tmp_path):
    path = tmp_path / "nope.onnx"
    refused("--backend", "onnxruntime", "--onnx", path, "--count", "8", says=(path, "does not exist"))


def test_missing_checkpoint(refused, tmp_path):
    path = tmp_path / "nope.pth"
    refused("--backend", "torch", "--weights", path, "--count", "8", says=(path, "does not exist", "--weights"))


@pytest.mark.parametrize("kind", ["truncated", "not-onnx"])
def test_broken_onnx_file(refused, tmp_path, kind):
    path = _tiny_onnx(tmp_path / "model.onnx")
    if kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        path.write_text("this is a text file, not an ONNX model\n")
    _, record = refused("--backend", "onnxruntime", "--onnx", path, "--count", "8", "--duration", "1",
                        says=(f"onnxruntime cannot load {path}", "Is it a valid ONNX model?"), leaves_run=True)
    assert str(path) in record["error"]


def test_truncated_checkpoint(refused, tmp_path):
    import torch

    path = tmp_path / "w.pth"
    torch.save({"fc.weight": torch.zeros(1000, 512)}, path)
    path.write_bytes(path.read_bytes()[:1000])
    _, record = refused("--backend", "torch", "--model", "resnet18", "--weights", path, "--count", "8",
                        says=(f"cannot load weights {path}", "Is the file complete"), leaves_run=True)
    assert "cannot load weights" in record["error"]


def test_checkpoint_for_the_wrong_model(refused, tmp_path):
    import torch

    from bench import models

    path = tmp_path / "resnet18.pth"
    torch.save(models.build_torch(models.resolve("resnet18")).state_dict(), path)
    refused("--backend", "torch", "--model", "resnet34", "--weights", path, "--count", "8",
            says=(f"weights {path} do not fit resnet34", "missing keys", "Pass the matching --model"), leaves_run=True)


class _Payload:
    """Unpickling this would create a file: what a hostile checkpoint does with code instead."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def test_checkpoint_with_code_is_not_executed(refused, tmp_path):
    """weights_only=True: a pickle that runs code on load is refused, and its code never runs."""
    import torch

    path, marker = tmp_path / "evil.pth", tmp_path / "pwned"
    torch.save({"fc.weight": torch.zeros(2), "x": _Payload(marker)}, path)
    refused("--backend", "torch", "--model", "resnet18", "--weights", path, "--count", "8",
            says=(f"cannot load weights {path}", "could run code from it", "Unsupported global", "state_dict"),
            leaves_run=True)
    assert not marker.exists(), "loading a checkpoint ran code from it"


# ---- data ------------------------------------------------------------------------------------------------------

def test_dataset_directory_missing(refused, tmp_path):
    path = tmp_path / "nodir"
    refused(*NULL, "--dataset", path, says=(f"dataset directory {path} does not exist", "--dataset synthetic"))


def test_val_map_missing(refused, tmp_path):
    d, _ = _dataset(tmp_path)
    (d / "val_map.txt").unlink()
    refused(*NULL, "--dataset", d, says=(d / "val_map.txt", "does not exist", "--val-map"))


@pytest.mark.parametrize("line,says", [
    ("just-a-name.JPEG", "expected '<image path> <label>'"),
    ("a.JPEG seven", "label 'seven' is not an integer"),
    ("a.JPEG 1000", "label 1000 is outside 0..999"),
    ("a.JPEG -1", "label -1 is outside 0..999"),
    ("a.JPEG ٣", "label '٣' is not an integer"),  # int() would read 3
    ("a\0b.JPEG 3", "NUL byte"),
])
def test_val_map_bad_line(refused, tmp_path, line, says):
    d, _ = _dataset(tmp_path)
    with open(d / "val_map.txt", "a") as f:
        f.write(line + "\n")
    refused(*NULL, "--dataset", d, says=(f"{d / 'val_map.txt'}:4:", says))


def test_val_map_names_a_missing_image(refused, tmp_path):
    d, entries = _dataset(tmp_path)
    (d / entries[1][0]).unlink()
    refused(*NULL, "--dataset", d, says=(d / entries[1][0], "line 2", "does not exist", "--skip-bad"))


@pytest.mark.parametrize("kind,says", [
    ("undecodable", "cannot decode it as an image"),
    ("zero-byte", "empty file (0 bytes)"),
    ("truncated", "cannot decode it as an image"),
])
def test_broken_image(refused, tmp_path, kind, says):
    d, entries = _dataset(tmp_path)
    path = d / entries[1][0]
    data = path.read_bytes()
    path.write_bytes({"undecodable": b"not a JPEG at all " * 64, "zero-byte": b"", "truncated": data[:600]}[kind])
    refused(*NULL, "--dataset", d, says=(path, "line 2", says, "--skip-bad"))


def test_grayscale_cmyk_16bit_and_rgba_images_are_used(refused, tmp_path):
    """Not errors: odd image modes become RGB and every one is measured (none skipped)."""
    d, entries = _dataset(tmp_path, 1)
    rgb = Image.open(IMAGES / entries[0][0]).convert("RGB")
    rgb.convert("L").save(d / "gray.JPEG")
    rgb.convert("CMYK").save(d / "cmyk.JPEG")
    wide = np.asarray(rgb.convert("L"), dtype=np.uint16) * 257
    Image.fromarray(wide).save(d / "gray16.png")
    assert Image.open(d / "gray16.png").mode.startswith("I")  # really a 16-bit PNG
    rgb.convert("RGBA").save(d / "rgba.png")
    label = entries[0][1]
    with open(d / "val_map.txt", "a") as f:
        f.writelines(f"{name} {label}\n" for name in ("gray.JPEG", "cmyk.JPEG", "gray16.png", "rgba.png"))
    _, record = refused(*NULL, "--dataset", d, code=0)
    assert record["status"] == "complete"
    assert record["dataset"]["count"] == 5 and record["dataset"]["skipped_bad"] == 0


def test_count_larger_than_the_dataset(refused, tmp_path):
    d, _ = _dataset(tmp_path)
    refused(*NULL, "--count", "4", "--dataset", d, says=("--count 4 is larger than the dataset", "3 images"))


def test_paths_that_look_like_markup_are_printed_as_text(bench_cli, tmp_path):
    """Rich reads '[/]' in a string as a closing tag: a path holding it once crashed the run's first line, then the
    error printer itself (a traceback). Paths are text."""
    d, _ = _dataset(tmp_path, 1)
    data, out = tmp_path / "data[/]x", tmp_path / "out[/]y"  # '/' is also a separator: 'data[' holds ']x'
    data.parent.mkdir()
    d.rename(data)
    result = bench_cli("run", *NULL, "--dataset", data, "--output", out)
    assert result.exit_code == 0, result.output
    assert str(out) in result.output and "Traceback" not in result.output  # (the dataset cell wraps in the table)


# ---- user.conf -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["missing", "directory", "not-utf8", "bad-line", "no-spaces", "no-permission"])
def test_unreadable_user_conf(refused, tmp_path, kind):
    path = tmp_path / "user.conf"
    says: tuple = (f"--user-conf {path}", "readable LoadGen user.conf")
    if kind == "directory":
        path.mkdir()
    elif kind == "not-utf8":
        path.write_bytes(b"\xff\xfe*.Offline.target_qps = 10\n")
    elif kind == "bad-line":
        path.write_text("# tuned\n*.Offline.target_qps = 10\ntarget_qps 12\n")
        says = (f"{path}:3:", "'target_qps 12'", "expected 'model.Scenario.key = value'")
    elif kind == "no-spaces":  # LoadGen would ignore this line without a word, and run at its default QPS
        path.write_text("*.Offline.target_qps=10\n")
        says = (f"{path}:1:", "spaces around '='")
    elif kind == "no-permission":
        if os.geteuid() == 0:
            pytest.skip("root reads files whatever their mode")
        path.write_text("*.Offline.target_qps = 10\n")
        path.chmod(0)
    refused(*NULL, "--user-conf", path, says=says)


# ---- faults while writing (the first write failing is in test_reliability.py) ------------------------------------

def test_disk_fills_up_during_the_run(tree, bench_cli, monkeypatch):
    """The record's first write succeeds, the last one hits ENOSPC: exit 1 naming the file, and the run's own
    record stays the whole earlier version (never half a file), as do earlier runs."""
    import errno

    import bench.cache
    from bench.record import results

    real, calls = bench.cache.os.fsync, []

    def fills_up(fd):
        calls.append(fd)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)

    monkeypatch.setattr(bench.cache.os, "fsync", fills_up)
    before = tree.runs()
    result = bench_cli("run", *NULL, "--count", "8", "--output", tree.out)
    assert result.exit_code == 1, result.output
    (run_dir,) = tree.runs() - before
    assert f"cannot write {run_dir / 'result.json'}: No space left on device" in result.output
    assert "Traceback" not in result.output
    assert results.load(run_dir)["status"] == "running"  # the last whole version
    assert _digest(tree.earlier) == tree.digest
    assert not list(tree.out.rglob("*.tmp"))


# ---- the CLI contract ------------------------------------------------------------------------------------------

def test_debug_shows_the_traceback(bench_cli):
    """One line without --debug (every test above); with it, the exception itself."""
    with pytest.raises(UsageError, match="unknown backend"):
        bench_cli("--debug", "run", "--backend", "nosuch")


def test_invalid_is_unmissable_with_json_and_strict(bench_cli, results_dir, tmp_path):
    """Server under a 1 µs bound: LoadGen says INVALID. With --json on stdout, stderr still carries the panel with
    LoadGen's whole reason (not cropped) and the fix; --strict exits 3 and says why."""
    conf = tmp_path / "user.conf"
    conf.write_text("*.Server.min_query_count = 100\n")
    result = bench_cli("run", "--backend", "null", "--model", "resnet18", "--scenario", "server", "--count", "8",
                       "--duration", "1", "--target-qps", "500", "--latency-bound-ms", "0.001", "--user-conf", conf,
                       "--json", "--strict", "--output", results_dir)
    assert result.exit_code == 3, result.output
    record = json.loads(result.stdout)
    assert record["performance"]["valid"] is False
    panel = " ".join(result.stderr.replace("│", " ").split())  # the panel's text, unwrapped
    assert "LoadGen judged this run INVALID" in panel and "latency bound missed" in panel
    assert "at the target percentile" in panel, "LoadGen's reason must be shown whole"
    assert "What to change: lower --target-qps" in panel
    assert "--strict: exit 3: LoadGen judged the run INVALID" in panel


def test_strict_exits_3_on_accuracy_fail(bench_cli, results_dir, tmp_path, monkeypatch):
    """A real accuracy run that cannot reach the reference: seeded random weights under a known model's row."""
    import torch

    from bench import models
    from bench.cache import file_sha256
    from bench.models import known

    path = tmp_path / "resnet18.pth"
    torch.save(models.build_torch(models.resolve("resnet18", seed=5)).state_dict(), path)
    row = known.KnownModel(name="resnet18-test", arch="resnet18", format="torch", url="file:///none", file="x.pth",
                           sha256=file_sha256(path), preprocessing="torchvision", reference_top1=0.6976)
    rows = {**known.table(), row.name: row}  # the real table, plus this file's row
    monkeypatch.setattr(known, "table", lambda: rows)
    result = bench_cli("run", "--backend", "torch", "--model", "resnet18", "--weights", path, "--dataset", IMAGES,
                       "--count", "8", "--batch-size", "4", "--threads", "1", "--mode", "accuracy", "--strict",
                       "--output", results_dir)
    assert result.exit_code == 3, result.output
    assert "ACCURACY FAIL" in result.output and "below 0.6906" in result.output
    assert "--strict" in result.output and "accuracy FAIL" in result.output
    record = json.loads(next(results_dir.glob("*/result.json")).read_text())
    assert record["status"] == "complete" and record["accuracy"]["verdict"] == "FAIL"
    assert record["accuracy"]["count"] == 8


# ---- security basics -------------------------------------------------------------------------------------------

def _unsafe(source: str, where: str) -> list[str]:
    """Shell strings, os.system/popen, pickle loads, and torch.load or np.load that may unpickle code."""
    import ast

    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        owner = getattr(func.value, "id", "") if isinstance(func, ast.Attribute) else ""
        kw = {k.arg: k.value for k in node.keywords}
        is_const = lambda key, value: isinstance(kw.get(key), ast.Constant) and kw[key].value is value  # noqa: E731
        line = f"{where}:{node.lineno}"
        if "shell" in kw and not is_const("shell", False):
            found.append(f"{line}: shell=")
        if (owner, name) in (("os", "system"), ("os", "popen")) or name in ("getoutput", "getstatusoutput"):
            found.append(f"{line}: {owner}.{name}")
        if owner in ("pickle", "marshal") and name in ("load", "loads"):
            found.append(f"{line}: {owner}.{name}")
        if owner == "torch" and name == "load" and not is_const("weights_only", True):
            found.append(f"{line}: torch.load without weights_only=True")
        if owner == "np" and name == "load" and "allow_pickle" in kw and not is_const("allow_pickle", False):
            found.append(f"{line}: np.load with allow_pickle")
    return found


def test_no_shell_strings_and_checkpoints_load_weights_only():
    """No shell: commands are argument lists, never strings a path could break out of. torch.load: weights only."""
    bad = ("import os, subprocess, torch\nsubprocess.run(f'ls {x}', shell=True)\nos.system(x)\n"
           "torch.load(p)\ntorch.load(p, weights_only=False)\n")
    assert len(_unsafe(bad, "example")) == 4  # the check itself sees each kind
    root = Path(__file__).resolve().parent.parent
    found = [f for d in ("bench", "backends", "scenarios", "benchmarks") for path in sorted((root / d).rglob("*.py"))
             for f in _unsafe(path.read_text(), str(path.relative_to(root)))]
    assert not found, found
