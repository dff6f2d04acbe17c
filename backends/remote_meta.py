"""What an Open Inference Protocol server says of its model (metadata and config), checked against the run before
anything is timed, and every reply checked against it during the run.

Triton's HTTP client answers dicts; its gRPC client answers protobuf JSON, where int64 fields (shapes) are strings and
zero fields (max_batch_size 0) are left out: both are normalised here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.errors import BackendUnavailable, RunFailed

# The protocol's tensor datatypes bench sends and reads, as numpy names them.
NUMPY = {"FP32": "float32", "FP16": "float16", "INT64": "int64", "INT32": "int32", "FP64": "float64"}

PRECISION_DTYPE = {"fp32": "FP32", "fp16": "FP16"}
CLASS_ID_TYPES = ("INT64", "INT32")
SCORE_TYPES = ("FP32", "FP16", "FP64")


@dataclass
class ServedModel:
    name: str
    version: str
    platform: str
    input_name: str
    input_dtype: str
    input_shape: list[int]  # as the metadata declares it: batch dimension first (-1 where the model batches)
    output_name: str
    output_dtype: str
    output_shape: list[int]
    max_batch_size: int  # Triton's config; 0: the server batches without a declared limit, or has no config API

    @property
    def sample_shape(self) -> list[int]:
        return self.input_shape[1:]

    @property
    def per_sample_output(self) -> list[int]:
        return self.output_shape[1:]

    @property
    def gives_logits(self) -> bool:
        """Scores [classes] per sample (argmax on the client), else one class id per sample."""
        return self.output_dtype in SCORE_TYPES and len(self.per_sample_output) == 1 and \
            self.per_sample_output[0] != 1

    def signature(self) -> str:
        return (f"{self.name} {self.input_dtype}{self.input_shape} -> {self.output_dtype}{self.output_shape} "
                f"max_batch_size {self.max_batch_size}")

    def where(self, url: str) -> str:
        return f"endpoint {url}, model {self.name}"

    def check(self, url: str, sample: tuple[int, ...], precision: str, batch: int, classes: int) -> None:
        """Refuse (exit 2) a served model that does not fit the run: the message names endpoint, model and field."""
        at = self.where(url)
        want = PRECISION_DTYPE[precision]
        if self.input_dtype != want:
            raise BackendUnavailable(f"{at}: input {self.input_name} datatype is {self.input_dtype}, but the run asks "
                                     f"--precision {precision} ({want}): run with the precision the server takes")
        shape = self.sample_shape
        if len(shape) != len(sample) or any(s not in (-1, w) for s, w in zip(shape, sample, strict=False)):
            raise BackendUnavailable(f"{at}: input {self.input_name} shape is {shape} per sample, but the dataset's "
                                     f"samples are {list(sample)} (NCHW): serve a model that takes them, or pick "
                                     "the --model/--null-image-size whose input it is")
        if self.max_batch_size > 0 and batch > self.max_batch_size:
            raise BackendUnavailable(f"{at}: max_batch_size is {self.max_batch_size}, but the run sends batches of "
                                     f"{batch}: give --batch-size {self.max_batch_size} or less")
        if self.input_shape[:1] not in ([-1], [batch]):
            raise BackendUnavailable(f"{at}: input {self.input_name} shape {self.input_shape} fixes the batch at "
                                     f"{self.input_shape[0]}, but the run sends up to {batch}: give --batch-size "
                                     f"{self.input_shape[0]}")
        out = self.per_sample_output
        if self.gives_logits:
            if out[0] not in (-1, classes, classes + 1):
                raise BackendUnavailable(f"{at}: output {self.output_name} has {out[0]} scores per sample, but the "
                                         f"model has {classes} classes")
        elif not (self.output_dtype in CLASS_ID_TYPES + SCORE_TYPES and out in ([], [1], [-1])):
            raise BackendUnavailable(f"{at}: output {self.output_name} is {self.output_dtype}{self.output_shape}: "
                                     "bench reads either class scores [classes] or one class id per sample")

    def check_reply(self, url: str, result, n: int) -> None:
        """A reply of the wrong dtype, shape or count, or with a non-finite value, fails the run, named."""
        at = self.where(url)
        if result is None:
            raise RunFailed(f"{at}: the reply to a request of {n} samples holds no output {self.output_name}")
        expected = np.dtype(_numpy(self.output_dtype))
        if result.dtype != expected:
            raise RunFailed(f"{at}: output {self.output_name} came back {result.dtype}, declared {self.output_dtype}")
        if result.ndim == 0 or result.shape[0] != n:
            raise RunFailed(f"{at}: output {self.output_name} came back with shape {list(result.shape)} for a "
                            f"request of {n} samples: one row per sample expected")
        per = list(result.shape[1:])
        declared = self.per_sample_output
        if len(per) > len(declared) or any(d not in (-1, p) for d, p in zip(declared, per, strict=False)):
            raise RunFailed(f"{at}: output {self.output_name} came back {list(result.shape)}, declared "
                            f"{self.output_shape}")
        if result.dtype.kind == "f" and not np.isfinite(result).all():
            bad = int(np.flatnonzero(~np.isfinite(result).reshape(n, -1).all(axis=1))[0])
            raise RunFailed(f"{at}: output {self.output_name} holds a non-finite value for sample {bad} of a "
                            f"request of {n}")

    def describe(self) -> dict:
        return {"model": self.name, "model_version": self.version or None, "platform": self.platform,
                "input": {"name": self.input_name, "datatype": self.input_dtype, "shape": self.input_shape},
                "output": {"name": self.output_name, "datatype": self.output_dtype, "shape": self.output_shape},
                "max_batch_size": self.max_batch_size}


def _numpy(datatype: str):
    return NUMPY.get(datatype, "float32")


def read_model(client, endpoint, wanted: str | None, headers: dict, timeout_s: float) -> ServedModel:
    """The served model's metadata and config, or exit 2 naming the endpoint (refused, unknown model, ...)."""
    url, grpc = endpoint.url, endpoint.protocol == "grpc"
    kw = {"headers": dict(headers) or None, **({"as_json": True, "client_timeout": timeout_s} if grpc else {})}
    live_kw = {"headers": dict(headers) or None, **({"client_timeout": timeout_s} if grpc else {})}
    try:
        live = client.is_server_live(**live_kw)
    except Exception as exc:
        # A TLS handshake that fails (an unknown CA) reads as any other unreachable server: name the TLS fix too.
        fix = "; over TLS: --ca-cert FILE, the PEM of the CA that signed its certificate" if endpoint.tls else ""
        raise BackendUnavailable(f"endpoint {url}: cannot reach the server ({type(exc).__name__}: "
                                 f"{one_line(exc)[:200]}): start it, or fix --url{fix}") from exc
    if not live:
        raise BackendUnavailable(f"endpoint {url}: the server answers but is not live (/v2/health/live)")
    if wanted is None:
        names = _ready_models(client, grpc, kw)
        if names is None or len(names) != 1:
            served = "cannot list its models" if names is None else f"serves {len(names)} ready models " \
                f"({', '.join(names) or 'none'})"
            raise BackendUnavailable(f"endpoint {url} {served}: name the model with --remote-model")
        wanted = names[0]
    try:
        meta = client.get_model_metadata(wanted, **kw)
    except Exception as exc:
        names = _ready_models(client, grpc, kw)
        has = f" (it serves: {', '.join(names) or 'none'})" if names is not None else ""
        raise BackendUnavailable(f"endpoint {url}: no model {wanted!r}{has}: fix --remote-model "
                                 f"({type(exc).__name__}: {str(exc)[:160]})") from exc
    try:  # Triton's model configuration extension: KServe and OpenVINO Model Server may not have it
        config = client.get_model_config(wanted, **kw)
        config = config.get("config", config) if grpc else config
    except Exception:  # noqa: BLE001 - no declared max batch: the metadata's shapes still bound the request
        config = {}
    inputs, outputs = meta.get("inputs", []), meta.get("outputs", [])
    if len(inputs) != 1 or not outputs:
        raise BackendUnavailable(f"endpoint {url}, model {wanted}: inputs {[i['name'] for i in inputs]}, outputs "
                                 f"{[o['name'] for o in outputs]}: bench sends one image tensor and reads one output")
    inp = inputs[0]
    # Class ids if the model offers them, else the first scores output.
    out = next((o for o in outputs if o["datatype"] in ("INT64", "INT32")), outputs[0])
    versions = meta.get("versions") or [""]
    return ServedModel(wanted, str(versions[-1]) if len(versions) == 1 else "", meta.get("platform", ""),
                       inp["name"], inp["datatype"], [int(s) for s in inp["shape"]], out["name"], out["datatype"],
                       [int(s) for s in out["shape"]], int(config.get("max_batch_size", 0) or 0))


def _ready_models(client, grpc: bool, kw: dict) -> list[str] | None:
    """The server's ready models (Triton's repository extension), or None where it has no such API."""
    try:
        index = client.get_model_repository_index(**kw)
    except Exception:  # noqa: BLE001 - KServe v2 has no repository index
        return None
    models = (index.get("models", []) if grpc else index) or []
    return sorted({m["name"] for m in models if m.get("state", "READY") == "READY"})


class Unreachable(Exception):
    """A request that failed because its endpoint no longer answers (as against the server answering an error)."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.message, self.reason = message, reason


def one_line(exc: Exception) -> str:
    """A server's error on one line: its first line and, for a traceback (a served model that raised), its last."""
    lines = [x.strip() for x in str(exc).strip().splitlines() if x.strip()] or [""]
    return lines[0][:300] + (f" ... {lines[-1][:200]}" if len(lines) > 1 else "")


def unreachable(exc: Exception) -> bool:
    """The endpoint is gone (refused, reset, timed out, gRPC UNAVAILABLE), not a server's error reply."""
    if isinstance(exc, OSError):
        return True
    status = getattr(exc, "status", None)
    status = str(status() if callable(status) else status or "")
    return any(w in status for w in ("UNAVAILABLE", "DEADLINE_EXCEEDED"))
