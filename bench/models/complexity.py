"""Parameters and FLOPs per image: counted from the network itself, never typed in by hand."""

from __future__ import annotations

import json
from functools import cache

from bench.cache import atomic_write, cache_dir


@cache
def torch_counts(arch: str, num_classes: int = 1000, input_size: int = 224) -> dict:
    """Parameters and forward FLOPs (2 x multiply-adds) of one image, counted once per architecture and cached on
    disk: importing torch costs seconds, which runs that never touch torch (onnxruntime, null) should not pay."""
    path = cache_dir("complexity") / f"{arch}-{num_classes}-{input_size}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        counts = _count(arch, num_classes, input_size)
        atomic_write(path, json.dumps(counts))
        return counts


def _count(arch: str, num_classes: int, input_size: int) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from bench.models import builder

    with torch.device("meta"):
        model = builder(arch)(arch, num_classes).eval()
        x = torch.empty(1, 3, input_size, input_size)
    params = sum(p.numel() for p in model.parameters())
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    flops = counter.get_total_flops()
    return {"parameters": params, "parameters_m": round(params / 1e6, 2), "gflops_per_image": round(flops / 1e9, 3),
            "flops_counted": "conv and matmul, 2 FLOPs per multiply-add (torch.utils.flop_counter)"}


def onnx_counts(path: str) -> dict:
    """Parameters of an ONNX file (its initializers) and its classifier output's width."""
    import numpy as np
    import onnx

    model = onnx.load(path, load_external_data=False)
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    return {"parameters": params, "parameters_m": round(params / 1e6, 2), "gflops_per_image": None,
            "outputs": [o.name for o in model.graph.output]}
