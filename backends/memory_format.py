"""Choose the CPU memory format for a torch model by timing both at load (untimed).

channels_last (NHWC) lets oneDNN skip reorders around each convolution; whether that is faster depends on the CPU
(AVX2 or AVX-512), the model and the batch, so it is measured, not assumed. The rounds alternate the two formats
so a background job slows both alike, and the fastest turn of each counts (the least disturbed one).
"""

from __future__ import annotations

import time

ROUNDS = 3  # alternating rounds of one timed forward per format, after one untimed forward each
BUDGET_S = 20.0  # a slow model on a slow CPU: stop timing early rather than lengthen the load for minutes


def choose(torch, model, shape: tuple[int, ...], dtype, asked: bool | None = None) -> dict:
    """{"channels_last": bool, "chosen_by": ..., "ms_per_batch": {format: ms}}; `asked` skips the measurement."""
    if asked is not None:
        return {"channels_last": bool(asked), "chosen_by": "asked (extra channels_last)", "ms_per_batch": None}
    formats = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}
    best = {name: float("inf") for name in formats}
    x = torch.rand(shape).to(dtype)
    start = time.perf_counter()
    with torch.inference_mode():
        for fmt in formats.values():  # first call per format: oneDNN creates its primitives
            model.to(memory_format=fmt)(x.contiguous(memory_format=fmt))
        for _ in range(ROUNDS):
            for name, fmt in formats.items():
                m, xi = model.to(memory_format=fmt), x.contiguous(memory_format=fmt)
                t = time.perf_counter()
                m(xi)
                best[name] = min(best[name], time.perf_counter() - t)
            if time.perf_counter() - start > BUDGET_S:
                break
    fastest = min(best, key=best.get)
    return {"channels_last": fastest == "channels_last",
            "chosen_by": f"faster at batch {shape[0]} in a timed load (fastest of up to {ROUNDS} alternating turns)",
            "ms_per_batch": {name: round(s * 1000, 2) for name, s in best.items()}}
