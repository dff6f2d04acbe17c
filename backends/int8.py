"""int8 by post-training static quantization on a calibration set: NNCF for OpenVINO, quantize_static for ONNX
Runtime. Each quantized model is written once to the cache, keyed by model, calibration images and method."""

from __future__ import annotations

import time
from pathlib import Path

from bench.backends.precision import calibration_batches, calibration_images, quantized_path
from bench.cache import atomic_write

OPENVINO_METHOD = "nncf-ptq-performance"
# quant_pre_process first (folds the exported graph's constants, so conv biases are initializers), then QDQ
# with per-channel s8 weights and u8 activations, which ONNX Runtime's CPU provider fuses into int8 kernels.
# Without the pre-processing the quantized ResNet-18 ran slower than fp32 here (3.9 vs 6.3 samples/s; with it 15.5).
ORT_METHOD = "ort-pre-qdq-minmax-perchannel"


def _calibration(model, options) -> list[Path]:
    return calibration_images(options.extra["calibration"], options.extra.get("calibration_dataset"))


def _model_id(model) -> str:
    from bench.models import onnx_file

    return Path(onnx_file(model)).stem if model.onnx is None else model.weights_id


def _info(method: str, images: list[Path], path: Path, seconds: float | None) -> dict:
    return {"method": method, "calibration_images": len(images), "file": str(path),
            "quantize_s": None if seconds is None else round(seconds, 1), "cached": seconds is None}


def openvino_int8(model, options, core) -> tuple[Path, dict]:
    """An int8 IR (.xml + .bin) of the model, quantized by NNCF on the calibration set."""
    import nncf
    import openvino as ov

    from bench.models import onnx_file

    images = _calibration(model, options)
    path = quantized_path(_model_id(model), images, OPENVINO_METHOD, model.preprocessing, ".xml")
    if path.exists() and path.with_suffix(".bin").exists():
        return path, _info(OPENVINO_METHOD, images, path, None)
    start = time.perf_counter()
    source = core.read_model(str(model.onnx or onnx_file(model)))
    data = calibration_batches(images, model.preprocessing)
    quantized = nncf.quantize(source, nncf.Dataset(data), preset=nncf.QuantizationPreset.PERFORMANCE,
                              subset_size=len(data))
    # Saved beside a temporary name, then renamed: a crash never leaves a half-written cached model.
    tmp = path.with_name(f".{path.stem}.tmp.xml")
    ov.save_model(quantized, str(tmp), compress_to_fp16=False)
    tmp.with_suffix(".bin").replace(path.with_suffix(".bin"))
    tmp.replace(path)
    return path, _info(OPENVINO_METHOD, images, path, time.perf_counter() - start)


class _Reader:
    """onnxruntime's CalibrationDataReader protocol over preprocessed batches."""

    def __init__(self, name: str, batches):
        self.items = iter([{name: b} for b in batches])

    def get_next(self):
        return next(self.items, None)


# TensorRT's explicit quantization takes signed int8 with zero points of 0 (symmetric), fp32 weights under a
# Q/DQ pair (TensorRT quantizes them itself) and an fp32 bias; it fuses the Q/DQ into int8 kernels.
TENSORRT_METHOD = "ort-qdq-symmetric-s8-tensorrt"
_SETTINGS = {
    ORT_METHOD: {"activation": "QUInt8", "extra": {}},
    TENSORRT_METHOD: {"activation": "QInt8", "extra": {"ActivationSymmetric": True, "WeightSymmetric": True,
                                                       "AddQDQPairToWeight": True, "QuantizeBias": False}},
}


def onnxruntime_int8(model, options, method: str = ORT_METHOD) -> tuple[Path, dict]:
    """An int8 QDQ ONNX model, quantized by onnxruntime.quantization.quantize_static on the calibration set.

    `method` TENSORRT_METHOD makes the Q/DQ flavour TensorRT's strongly typed networks consume.
    """
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from bench.models import onnx_file

    images = _calibration(model, options)
    path = quantized_path(_model_id(model), images, method, model.preprocessing, ".onnx")
    if path.exists():
        return path, _info(method, images, path, None)
    start = time.perf_counter()
    source = Path(model.onnx or onnx_file(model))
    name = onnx.load(str(source), load_external_data=False).graph.input[0].name
    tmp, pre = path.with_name(f".{path.stem}.tmp.onnx"), path.with_name(f".{path.stem}.pre.onnx")
    quant_pre_process(str(source), str(pre), skip_symbolic_shape=True)
    settings = _SETTINGS[method]
    quantize_static(str(pre), str(tmp), _Reader(name, calibration_batches(images, model.preprocessing)),
                    quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=getattr(QuantType, settings["activation"]), weight_type=QuantType.QInt8,
                    extra_options=settings["extra"])
    atomic_write(path, tmp.read_bytes())
    tmp.unlink(missing_ok=True)
    pre.unlink(missing_ok=True)
    return path, _info(method, images, path, time.perf_counter() - start)
