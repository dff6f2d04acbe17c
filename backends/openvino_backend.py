"""OpenVINO backend: the exported ONNX model (or an IR .xml) on CPU, GPU or NPU, fp32/bf16 and NNCF int8.

Precision is pinned, never left to OpenVINO: on CPUs with bf16 it runs fp32 models in bf16 unless told
INFERENCE_PRECISION_HINT=f32, so load() sets the hint and reads the compiled model's value back.

Concurrency: THROUGHPUT hint (Offline, Server) gives several streams; `concurrency` is twice the compiled
model's optimal number of infer requests (one per stream on the CPU), so the scenarios run that many worker
threads. They share a pool of that many infer requests: each thread takes an idle one, infers its batch (OpenVINO
releases the GIL) and gives it back. Two per stream, because a worker's own Python (the batch copy, argmax, the
response) would otherwise leave its stream idle between batches; OpenVINO queues the second request on the stream
and runs it meanwhile, as benchmark_app's asynchronous requests restart at once. EfficientNet-Lite0 on a 2-core
AMD EPYC: 0.95 of `benchmark_app -hint throughput` with one per stream, 1.01 with two (benchmarks/peers.py).
`--streams N` sets NUM_STREAMS=N (and the threads) in place of the hint's choice. A pool of requests, not
ov.AsyncInferQueue: when an inference fails (seen here: a batch beyond the shape bound), AsyncInferQueue never runs
the callback and the waiting caller hangs; a request's own infer() raises, and the run is recorded failed.
SingleStream uses the LATENCY hint and one request.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench.backends.base import Availability, Backend, BackendOptions, Support, argmax_classes
from bench.backends.worker_pool import WorkerPool
from bench.errors import BackendUnavailable

if TYPE_CHECKING:  # type hints only: the declarations import without numpy (`bench run --help`)
    import numpy as np

OV_PRECISION = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}
# Infer requests in flight per optimal request (see the module's docstring).
REQUESTS_PER_STREAM = 2
# GPU and NPU: every precision OpenVINO compiles for them; int8 by NNCF on a calibration set.
ACCELERATOR = Support(("fp32", "bf16", "fp16", "int8"), options=("calibration",), inputs=("model", "onnx"),
                      needs={"int8": "calibration"})


class OpenVinoBackend(Backend):
    name = "openvino"
    pip_extra = "openvino"
    packages = ("openvino", "nncf")
    model_format = "onnx"
    SUPPORTS = {
        "cpu": Support(("fp32", "bf16", "int8"), options=("streams", "calibration"), inputs=("model", "onnx"),
                       needs={"bf16": "native_bf16", "int8": "calibration"}),
        "gpu": ACCELERATOR,
        "npu": ACCELERATOR,
    }

    @classmethod
    def probe(cls) -> Availability:
        if importlib.util.find_spec("openvino") is None:
            return Availability(False, f"OpenVINO is not installed: pip install 'bench[{cls.pip_extra}]'")
        import openvino as ov

        devices = [d.lower() for d in ov.Core().available_devices]  # CPU, GPU.0, NPU ... as --device spells them
        return Availability(True, version=ov.__version__, devices=devices)

    @classmethod
    def check_options(cls, options: BackendOptions) -> None:
        super().check_options(options)
        if options.precision == "int8" and importlib.util.find_spec("nncf") is None:
            raise cls.refusal(options, "precision int8", "it quantizes with NNCF, which is not installed: pip "
                              "install 'bench[int8]'", [p for p in cls.precisions_here(options.device) if p != "int8"])

    def load(self, model, options: BackendOptions) -> None:
        import openvino as ov
        import openvino.properties.hint as hints

        self.options, self.ov = options, ov
        self.core = ov.Core()
        self.device = options.device
        kind, _, index = options.device.partition(":")
        self.ov_device = kind.upper() + (f".{index}" if index else "")
        self.path, ov_model, self.quantization = self._model(model, options)
        batch = options.batch_size
        # Bounded dynamic batch: Server's dynamic batches vary in size; the bound lets the CPU plugin plan memory.
        ov_model.reshape({ov_model.input(0): ov.PartialShape([ov.Dimension(1, batch), 3, model.input_size,
                                                              model.input_size])})
        self.mode = hints.PerformanceMode.LATENCY if options.intent == "latency" \
            else hints.PerformanceMode.THROUGHPUT
        config = {hints.performance_mode: self.mode}
        # int8: the quantized ops run int8, and the rest f32 (not bf16, OpenVINO's default here), so an int8
        # figure measures int8 alone.
        config[hints.inference_precision] = OV_PRECISION.get(options.precision, "f32")
        if options.threads and self.ov_device == "CPU":
            import openvino.properties as props

            config[props.inference_num_threads] = options.threads
        if options.extra.get("streams"):  # --streams N: exactly N CPU streams, --threads (or every core) shared
            import openvino.properties as props

            from bench.backends import cpu_streams

            split = cpu_streams.split(options)
            config[props.num_streams] = split.streams
            config[props.inference_num_threads] = split.threads
        start = time.perf_counter()
        try:
            self.compiled = self.core.compile_model(ov_model, self.ov_device, config)
        except Exception as exc:
            raise BackendUnavailable(f"OpenVINO could not compile {self.path} for {self.ov_device}: {exc}")
        self.compile_s = time.perf_counter() - start
        self.inference_precision = self.compiled.get_property(hints.inference_precision).get_type_name()  # "f32"
        want = OV_PRECISION.get(options.precision, "f32")
        if self.inference_precision != want:  # never report a precision that did not run
            raise BackendUnavailable(f"OpenVINO compiled {self.ov_device} with inference precision "
                                     f"{self.inference_precision}, not {want} as asked")
        # The class scores: the first float output of rank 2 (MLPerf's ResNet-50 lists an int64 ArgMax first).
        self.output = next((o for o in self.compiled.outputs if o.get_element_type().is_real()
                            and o.get_partial_shape().rank.get_length() == 2), None)
        if self.output is None:
            raise BackendUnavailable(f"{self.path} has no class-score output of shape [batch, classes]: "
                                     "give a ResNet-style classifier")
        self.requests = int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self.streams = self._property("NUM_STREAMS")
        asked = options.extra.get("streams")
        if asked and self.streams != asked:  # never record streams that did not run
            raise BackendUnavailable(f"OpenVINO compiled {self.ov_device} with {self.streams} streams, not "
                                     f"--streams {asked}")
        self.concurrency = 1 if self.mode == hints.PerformanceMode.LATENCY else REQUESTS_PER_STREAM * self.requests
        # Streams that run batches side by side: the harness scales its one-batch-at-a-time warm-up rate by it.
        self.parallel_streams = min(self.concurrency, self.streams) if isinstance(self.streams, int) else 1
        self.max_batch = batch
        self.pool = WorkerPool(self.compiled.create_infer_request() for _ in range(self.concurrency))

    def _model(self, model, options):
        """(path, ov.Model, quantization info) for this model and precision; int8 is quantized once and cached."""
        from bench.models import onnx_file

        if options.precision != "int8":
            path = Path(model.onnx) if model.onnx else onnx_file(model)
            return path, self.core.read_model(str(path)), None
        from bench.backends import int8

        path, info = int8.openvino_int8(model, options, self.core)
        return path, self.core.read_model(str(path)), info

    def _property(self, name: str):
        try:
            value = self.compiled.get_property(name)
            return int(value) if str(value).lstrip("-").isdigit() else str(value)
        except Exception:  # a property this device does not report
            return None

    def logits(self, batch: np.ndarray) -> np.ndarray:
        if len(batch) > self.max_batch:
            raise ValueError(f"batch of {len(batch)} is larger than the loaded model's bound {self.max_batch}")
        with self.pool.use() as request:
            # The output is copied out before the request goes back to the pool and is reused.
            return request.infer({0: batch}, share_inputs=True)[self.output].copy()

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return argmax_classes(self.logits(batch))

    def describe(self) -> dict:
        info = {
            "name": self.name,
            "version": self.ov.__version__,
            "device": self.ov_device,
            "device_name": self._device_name(),
            "precision": self.options.precision,
            "inference_precision": self.inference_precision,
            "performance_hint": str(self.mode),
            "streams": self.streams,
            "infer_requests": self.requests,
            "in_flight": self.concurrency,
            "threads": self._property("INFERENCE_NUM_THREADS"),
            "threads_asked": self.options.threads,
            "batch_size": self.options.batch_size,
            "compile_s": round(self.compile_s, 3),
            "model_file": str(self.path),
        }
        if self.quantization:
            info["quantization"] = self.quantization
        return info

    def _device_name(self) -> str | None:
        try:
            return str(self.core.get_property(self.ov_device, "FULL_DEVICE_NAME"))
        except Exception:
            return None
