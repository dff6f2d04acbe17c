"""Precisions: refusals exit 2 listing what a backend can run; bf16 only on native-bf16 CPUs; int8 by calibration."""

from __future__ import annotations

import pytest

import bench.backends.precision as precision
from bench import backends
from tests.backend_helpers import IMAGES, cosine, loaded, real_images
from tests.conftest import FAST_RUN, lacks_native_bf16, needs_native_bf16, only_run

NO_BF16_CPU = {"fpu", "sse4_2", "avx2", "fma", "avx512f", "avx512_vnni"}  # an AVX-512 CPU without bf16


@pytest.mark.parametrize("backend, precision_", [("onnxruntime", "bf16"), ("torch", "int8"), ("torch-compile", "int8")])
def test_unsupported_precision_exits_2_listing_supported(bench_cli, results_dir, backend, precision_):
    cls = backends.backend_class(backend)
    assert all(precision_ not in s.precisions for s in cls.SUPPORTS.values())  # on no device
    supported = cls.precisions_here("cpu")  # the refusal lists what runs on the CPU asked for
    result = bench_cli("run", "--backend", backend, "--precision", precision_, "--output", results_dir, *FAST_RUN)
    assert result.exit_code == 2
    assert f"cannot run precision {precision_}" in result.output
    assert f"supports: {', '.join(supported)}" in result.output
    assert not list(results_dir.glob("*/result.json")), "refused before anything ran"


@pytest.mark.parametrize("backend", ["torch", "torch-compile", "openvino"])
def test_fp16_on_cpu_exits_2(bench_cli, results_dir, backend):
    result = bench_cli("run", "--backend", backend, "--precision", "fp16", "--output", results_dir, *FAST_RUN)
    assert result.exit_code == 2 and "fp16 only on" in result.output


@pytest.mark.cpu_features
@pytest.mark.parametrize("backend", ["torch", "torch-compile", "openvino"])
def test_bf16_with_bf16_flags_hidden_exits_2_saying_why(bench_cli, results_dir, monkeypatch, backend):
    """The test-only override hides bf16 from the harness: the refusal path itself runs for real, on any CPU."""
    monkeypatch.setenv("BENCH_CPU_FLAGS", " ".join(NO_BF16_CPU))
    result = bench_cli("run", "--backend", backend, "--precision", "bf16", "--output", results_dir, *FAST_RUN)
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "lacks native bf16" in text and "avx512_bf16" in text and "BENCH_CPU_FLAGS" in text
    assert "supports: fp32" in text
    assert not list(results_dir.glob("*/result.json")), "refused before anything ran"


@lacks_native_bf16
@pytest.mark.parametrize("backend", ["torch", "openvino"])
def test_bf16_on_a_cpu_without_it_exits_2_naming_the_flags(bench_cli, results_dir, backend):
    result = bench_cli("run", "--backend", backend, "--precision", "bf16", "--output", results_dir, *FAST_RUN)
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "lacks native bf16" in text and "avx512_bf16 or amx_bf16" in text and "supports: fp32" in text


@pytest.mark.cpu_features
def test_cpu_flag_override_only_hides_flags_and_the_record_says_so(bench_cli, results_dir, monkeypatch):
    from bench.system import sysinfo

    monkeypatch.delenv("BENCH_CPU_FLAGS", raising=False)
    real = sysinfo.real_cpu_flags()
    assert precision.read_cpu_flags() == real and sysinfo.collect()["cpu_flags_override"] is None
    monkeypatch.setenv("BENCH_CPU_FLAGS", "avx2 fma made_up_flag")
    assert precision.read_cpu_flags() == real & {"avx2", "fma"}  # never a flag the CPU lacks
    assert not precision.native_bf16()
    result = bench_cli("run", "--backend", "null", "--output", results_dir, *FAST_RUN)
    assert result.exit_code == 0, result.output
    system = only_run(results_dir)["system"]
    assert system["cpu_flags"] == sorted(real & {"avx2", "fma"})
    assert system["cpu_flags_override"] == {"env": "BENCH_CPU_FLAGS", "value": "avx2 fma made_up_flag",
                                            "real_cpu_flags": sorted(real & sysinfo.RECORDED_FLAGS)}


def test_native_bf16_detection():
    assert precision.native_bf16({"avx512f", "avx512_bf16"}) and precision.native_bf16({"amx_bf16"})
    assert not precision.native_bf16(NO_BF16_CPU)
    assert "lacks native bf16" in precision.lacks_native_bf16(NO_BF16_CPU)
    assert precision.lacks_native_bf16({"amx_bf16"}) is None


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
def test_int8_without_calibration_exits_2(bench_cli, results_dir, backend):
    result = bench_cli("run", "--backend", backend, "--precision", "int8", "--output", results_dir, *FAST_RUN)
    assert result.exit_code == 2
    assert "needs a calibration set" in result.output and "--calibration" in result.output


def test_calibration_list_naming_missing_images_exits_2(bench_cli, results_dir, tmp_path):
    listing = tmp_path / "cal_image_list.txt"
    listing.write_text("ILSVRC2012_val_00000001.JPEG\nILSVRC2012_val_99999999.JPEG\n")
    result = bench_cli("run", "--backend", "onnxruntime", "--precision", "int8", "--calibration", listing,
                       "--dataset", IMAGES, "--output", results_dir, *FAST_RUN)
    assert result.exit_code == 2 and "ILSVRC2012_val_99999999.JPEG" in result.output


def calibration_list(tmp_path):
    """An MLPerf-format calibration list of 8 bundled images (apart from the 16 the runs measure)."""
    listing = tmp_path / "cal_image_list.txt"
    names = [line.split()[0] for line in (IMAGES / "val_map.txt").read_text().splitlines()[20:28]]
    listing.write_text("\n".join(names) + "\n")
    return listing


@needs_native_bf16
def test_openvino_bf16_runs_bf16(bench_cli, results_dir):
    result = bench_cli("run", "--backend", "openvino", "--precision", "bf16", "--scenario", "single-stream",
                       "--output", results_dir, *FAST_RUN)
    assert result.exit_code == 0, result.output
    info = only_run(results_dir)["backend"]
    assert info["precision"] == "bf16" and info["inference_precision"] == "bf16"


@needs_native_bf16
def test_torch_bf16_close_to_fp32_on_real_images(bench_cli, results_dir):
    images = real_images(16)
    fp32 = loaded("torch").logits(images)
    bf16 = loaded("torch", precision="bf16").logits(images)
    assert cosine(bf16, fp32).min() > 0.99
    result = bench_cli("run", "--backend", "torch", "--precision", "bf16", "--output", results_dir, *FAST_RUN)
    assert result.exit_code == 0, result.output
    assert only_run(results_dir)["backend"]["precision"] == "bf16"


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_int8_quantizes_once_then_reuses_the_cached_model(bench_cli, tmp_path, backend):
    """Calibrated on an MLPerf-style image list (names under --dataset); the second run finds the cached model."""
    pytest.importorskip("nncf" if backend == "openvino" else "onnxruntime.quantization")
    listing = calibration_list(tmp_path)
    infos = []
    for attempt in range(2):
        out = tmp_path / f"results{attempt}"
        result = bench_cli("run", "--backend", backend, "--precision", "int8", "--calibration", listing,
                           "--dataset", IMAGES, "--output", out, *FAST_RUN)
        assert result.exit_code == 0, result.output
        record = only_run(out)
        assert record["status"] == "complete" and record["performance"]["samples"] > 0
        infos.append(record["backend"])
    first, second = infos
    assert first["precision"] == "int8" and first["quantization"]["calibration_images"] == 8
    assert first["quantization"]["cached"] is False and second["quantization"]["cached"] is True
    assert first["model_file"] == second["model_file"]
    if backend == "openvino":  # the non-quantized remainder is pinned to f32, not OpenVINO's bf16 default
        assert first["inference_precision"] == "f32"


def test_int8_logits_close_to_fp32_on_real_images(tmp_path):
    pytest.importorskip("onnxruntime.quantization")
    images = real_images(16)
    fp32 = loaded("onnxruntime").logits(images)
    int8 = loaded("onnxruntime", precision="int8",
                  extra={"calibration": str(calibration_list(tmp_path)), "calibration_dataset": str(IMAGES)}
                  ).logits(images)
    assert cosine(int8, fp32).mean() > 0.95
