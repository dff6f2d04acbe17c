"""ResNet family counts, checkpoints (.pth, .safetensors, mismatches), a 1001-class ONNX model, and accuracy mode."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench import models
from bench.data.imagenet import ImageNetDataset, read_val_map
from bench.errors import UsageError
from bench.models import complexity
from bench.record import accuracy
from tests.conftest import TEST_DATA, only_run

IMAGES = TEST_DATA / "imagenet"
COUNT = 12


@pytest.mark.parametrize("arch,millions", [("resnet18", 11.7), ("resnet34", 21.8), ("resnet50", 25.6),
                                           ("resnet101", 44.5), ("resnet152", 60.2)])
def test_parameter_counts_match_published(arch, millions):
    counts = complexity.torch_counts(arch)
    assert round(counts["parameters"] / 1e6, 1) == millions
    assert counts["gflops_per_image"] > 0


def test_resnet50_flops():
    assert 8.0 < complexity.torch_counts("resnet50")["gflops_per_image"] < 8.4  # 4.1 GMACs


def test_checkpoints_load_and_mismatches_list_what_differs(tmp_path):
    from safetensors.torch import save_file

    spec = models.resolve("resnet18", seed=3)
    state = models.build_torch(spec).state_dict()
    torch.save(state, tmp_path / "w.pth")
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "w.safetensors"))
    x = torch.randn(1, 3, 224, 224)
    want = models.build_torch(spec)(x)
    for name in ("w.pth", "w.safetensors"):
        loaded = models.build_torch(models.resolve("resnet18", str(tmp_path / name)))
        assert torch.equal(loaded(x), want)
    with pytest.raises(UsageError) as exc:  # a resnet18 checkpoint given to resnet34
        models.build_torch(models.resolve("resnet34", str(tmp_path / "w.pth")))
    assert "missing keys" in str(exc.value) and "layer1.2.conv1.weight" in str(exc.value)
    broken = dict(state)
    broken["fc.weight"] = torch.zeros(10, 512)
    torch.save(broken, tmp_path / "b.pth")
    with pytest.raises(UsageError, match=r"fc.weight: checkpoint \(10, 512\), model \(1000, 512\)"):
        models.build_torch(models.resolve("resnet18", str(tmp_path / "b.pth")))


def test_known_models_table():
    from bench.models import known

    rows = known.table()
    assert {0.7613, 0.80858, 0.7646} <= {r.reference_top1 for r in rows.values()}  # other families add rows
    for row in rows.values():
        assert row.arch in models.BUILDERS and row.url and row.preprocessing
    with pytest.raises(UsageError, match="bench fetch resnet50-torchvision-v1"):
        models.resolve("resnet50-torchvision-v1")


def _predictions(run_dir) -> dict[int, int]:
    return accuracy.predictions(run_dir / "loadgen" / "accuracy" / "mlperf_log_accuracy.json")


def _direct(spec, profile="torchvision") -> np.ndarray:
    entries = read_val_map(IMAGES / "val_map.txt")[:COUNT]
    ds = ImageNetDataset.prepare(IMAGES, IMAGES / "val_map.txt", entries, profile)
    with torch.no_grad():
        return models.build_torch(spec)(torch.from_numpy(np.stack([ds.sample(i) for i in range(COUNT)]))).numpy()


def test_accuracy_from_loadgen_log_equals_direct_top1(bench_cli, results_dir):
    result = bench_cli("run", "--backend", "torch", "--model", "resnet18", "--mode", "accuracy", "--dataset", IMAGES,
                       "--count", COUNT, "--batch-size", "4", "--threads", "1", "--output", results_dir)
    assert result.exit_code == 0, result.output
    record = only_run(results_dir)
    logits = _direct(models.resolve("resnet18"))
    direct = logits.argmax(1)
    labels = np.array([l for _, l in read_val_map(IMAGES / "val_map.txt")[:COUNT]])
    preds = _predictions(results_dir / record["run_id"])
    assert [preds[i] for i in range(COUNT)] == direct.tolist()
    acc = record["accuracy"]
    assert acc["count"] == COUNT and acc["top1"] == pytest.approx((direct == labels).mean())
    assert acc["synthetic"] is True and acc["passed"] is None and acc["verdict"] is None
    assert record["model"]["parameters"] == 11689512 and record["model"]["gflops_per_image"] > 3
    assert record["dataset"]["preprocessing"]["name"] == "torchvision"
    # accuracy.txt, as the run wrote it, reads back to the record's figures.
    txt = accuracy.read_accuracy_txt(results_dir / record["run_id"] / "loadgen" / "accuracy" / accuracy.TXT)
    assert (txt["correct"], txt["count"], txt["log_sha256"]) == (acc["correct"], acc["count"], None)
    assert txt["accuracy_percent"] == pytest.approx(100 * acc["top1"], abs=5e-4)


def test_1001_class_onnx_loses_the_offset_once(tmp_path, bench_cli, results_dir):
    """An MLPerf-style ONNX model: ArgMax output listed first, then [N, 1001] scores with class 0 background."""
    spec = models.resolve("resnet18", seed=5)
    net = models.build_torch(spec)

    class Mlperf(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            logits = self.net(x)
            scores = torch.cat([torch.full_like(logits[:, :1], -1e4), logits], dim=1)
            return scores.argmax(1), scores

    path = tmp_path / "mlperf_like.onnx"
    with torch.no_grad():
        torch.onnx.export(Mlperf().eval(), torch.zeros(1, 3, 224, 224), str(path), dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["ArgMax:0", "softmax_tensor:0"],
                          dynamic_axes={"input": {0: "batch"}})
    result = bench_cli("run", "--backend", "onnxruntime", "--onnx", path, "--preprocessing", "mlperf",
                       "--mode", "accuracy", "--dataset", IMAGES, "--count", COUNT, "--batch-size", "4",
                       "--threads", "1", "--output", results_dir)
    assert result.exit_code == 0, result.output
    record = only_run(results_dir)
    direct = _direct(spec, "mlperf").argmax(1)
    preds = _predictions(results_dir / record["run_id"])
    assert [preds[i] for i in range(COUNT)] == direct.tolist()
    assert record["dataset"]["preprocessing"]["name"] == "mlperf"
    assert record["model"]["parameters"] > 11_000_000
    # torch backends refuse an ONNX file.
    refused = bench_cli("run", "--backend", "torch", "--onnx", path, "--output", results_dir)
    assert refused.exit_code == 2 and "ONNX" in refused.output


def test_verdict_pass_and_fail(tmp_path):
    log = tmp_path / "mlperf_log_accuracy.json"
    preds = [3, 1, 2, 0]
    log.write_text(json.dumps([{"seq_id": i, "qsl_idx": i, "data": np.float32(p).tobytes().hex().upper()}
                               for i, p in enumerate(preds)]))
    labels = np.array([3, 1, 2, 9])
    # full_set=4: these 4 are the whole set, so MLPerf's plain comparison applies (subsets: test_efficientnet.py).
    passed = accuracy.evaluate(log, labels, reference_top1=0.75, threshold=0.99, synthetic=False, full_set=4)
    assert passed["top1"] == 0.75 and passed["verdict"] == "PASS" and passed["passed"] is True
    failed = accuracy.evaluate(log, labels, reference_top1=0.80, threshold=0.99, synthetic=False, full_set=4)
    assert failed["verdict"] == "FAIL" and failed["threshold_top1"] == pytest.approx(0.792)
    assert accuracy.read_accuracy_txt(tmp_path / accuracy.TXT) == {"accuracy_percent": 75.0, "correct": 3,
                                                                    "count": 4, "log_sha256": None}
    none = accuracy.evaluate(log, labels, reference_top1=0.80, threshold=0.99, synthetic=True)
    assert none["passed"] is None and none["verdict"] is None


@pytest.mark.parametrize("text", ["", "accuracy=75%, good=3, total=4\n", "{\"accuracy\": 75.0}\n",
                                  "accuracy=75.000%, good=3, total=4\nhash=xyz\n"])
def test_accuracy_txt_not_in_bench_words_exits_2_naming_the_file(tmp_path, text):
    path = tmp_path / accuracy.TXT
    path.write_text(text)
    with pytest.raises(UsageError, match="is not an accuracy.txt written by bench") as error:
        accuracy.read_accuracy_txt(path)
    assert str(path) in str(error.value) and error.value.exit_code == 2
