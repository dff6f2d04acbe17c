"""An --onnx file describes itself: its declared input shape is honoured or the run refused, its class count and
identity (file name, sha256) are read from the file and recorded, never taken from the --model default.

bench feeds float32 NCHW batches of square crops. A file declaring 299x299 is run at 299 (the preprocessing crops
to the file's size); one declaring NHWC, another channel count, a non-square input, or a fixed batch other than
the batch the scenario issues is refused before anything runs (onnxruntime's own message is many lines, and
OpenVINO would silently reshape the model to 224).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bench import scenarios
from bench.cache import file_sha256
from bench.errors import UsageError


def _dims(value_info) -> list:
    """Declared dimensions: ints where fixed, the symbolic name (or None) where free."""
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
            for d in value_info.type.tensor_type.shape.dim]


def inspect(path: str | Path) -> dict | None:
    """The file's one image input and its output, as declared; None if `onnx` is absent or cannot parse it
    (the backend then says so itself, naming the file)."""
    try:
        import onnx

        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:  # noqa: BLE001 - ImportError, DecodeError, ...: left to the backend's load message
        return None
    initializers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    return {"inputs": [(i.name, _dims(i)) for i in inputs],
            "outputs": [(o.name, _dims(o)) for o in graph.output]}


def _shape(dims: list) -> str:
    return "x".join("?" if d is None else str(d) for d in dims)


def apply(model, cfg):
    """`model` with the input size and class count its --onnx file declares, or UsageError for what cannot run."""
    if model.onnx is None or (info := inspect(model.onnx)) is None:
        return model
    where = f"--onnx {model.onnx}"
    if len(info["inputs"]) != 1:
        raise UsageError(f"{where} declares {len(info['inputs'])} inputs ({', '.join(n for n, _ in info['inputs'])}); "
                         "bench feeds one image batch: export a classifier with a single image input")
    name, dims = info["inputs"][0]
    declared = f"input {name!r} is declared {_shape(dims)}"
    if len(dims) != 4:
        raise UsageError(f"{where}: {declared}; bench feeds N x 3 x H x W images (NCHW): export it with that input")
    batch, channels, height, width = dims
    if channels != 3 and width == 3:
        raise UsageError(f"{where}: {declared}, channels last (NHWC); bench feeds N x 3 x H x W (NCHW): export it "
                         "channels first (tf2onnx: --inputs-as-nchw {name})")
    if channels not in (3, None) and not isinstance(channels, str):
        raise UsageError(f"{where}: {declared}; bench feeds 3-channel RGB images: export it with 3 input channels")
    sizes = {d for d in (height, width) if isinstance(d, int)}
    if len(sizes) > 1:
        raise UsageError(f"{where}: {declared}, not square; bench feeds square center crops: export it at HxH")
    issued = scenarios.get(cfg.scenario).backend_batch(cfg)
    if isinstance(batch, int) and batch != issued:
        raise UsageError(f"{where}: {declared}, a fixed batch of {batch}, but this run issues batches of up to "
                         f"{issued}: pass --batch-size {batch}" + (" --scenario single-stream" if batch == 1 else "")
                         + ", or export it with a dynamic batch dimension")
    changes = {}
    if sizes:
        changes["input_size"] = sizes.pop()  # honoured: preprocessing crops to the size the file declares
    out = info["outputs"][0][1] if info["outputs"] else []
    if out and isinstance(out[-1], int):
        changes["num_classes"] = out[-1]
    return dataclasses.replace(model, **changes) if changes else model


def check_labels(model, dataset, cfg) -> None:
    """Accuracy needs a class for every label: a 10-class model on ImageNet's labels would score 0 silently."""
    if cfg.mode not in ("accuracy", "both") or dataset.synthetic:
        return
    labels = dataset.labels()
    top = int(labels.max()) if len(labels) else -1
    if top >= model.num_classes:
        source = f"--onnx {model.onnx} outputs" if model.onnx else f"model {model.name} has"
        raise UsageError(f"{source} {model.num_classes} classes, but the dataset's labels go up to {top}: accuracy "
                         "would be meaningless. Use a model trained on these labels, or --mode performance")


def identity(model) -> dict:
    """What the record says about an --onnx file: read from the file itself."""
    if model.onnx is None:
        return {}
    info = inspect(model.onnx) or {"inputs": [], "outputs": []}
    return {"name": Path(model.onnx).name, "file": Path(model.onnx).name, "sha256": file_sha256(model.onnx),
            "declared_inputs": [{"name": n, "shape": d} for n, d in info["inputs"]],
            "declared_outputs": [{"name": n, "shape": d} for n, d in info["outputs"]]}
