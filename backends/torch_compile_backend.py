"""torch.compile backend (inductor): freezing on the CPU, compiled once at a fixed batch inside the untimed load.

Batch shapes: the model is compiled for one static batch (1 for SingleStream, --batch-size otherwise) and a
smaller batch (Server's dynamic batches, Offline's last one) is zero-padded up to it. Static shapes give one
compile, done in load(), and inductor's fastest kernels; a new shape would trigger a recompile of tens of
seconds inside the timed run, and dynamic=True trades away the static-shape specialisation freezing relies on.
The price is wasted work on partial batches, which the Server scenario's --batch-size bounds.

Caching: inductor's on-disk caches live under the bench cache (inductor/). What a second run reuses is the
generated C++ (or Triton) kernels, already compiled (measured here: ResNet-18 compile 33 s cold -> 20 s warm,
one thread). The FX graph cache (the whole compiled graph) is bypassed on the CPU: freezing prepacks conv
weights into mkldnn tensors, which inductor cannot pickle ("mkldnn tensors unpickleable"); dynamo tracing and
lowering therefore run again each time. describe() records this run's FX-graph-cache counters.

CUDA: one dedicated thread per device compiles the model and makes every call (`DeviceThread`); LoadGen's and
the scenarios' worker threads hand it their batches. CUDA-graph trees (reduce-overhead, max-autotune) keep
thread-local state, so a graph compiled on one thread and replayed from others fails or re-records
(pytorch/pytorch#123177); one thread also keeps inductor's streams and the graph pool in one place. Every
mode takes this path on CUDA, so the modes are timed alike. The batch goes numpy -> pinned buffer ->
non-blocking copy on that thread, inside predict. On CUDA the samples are uint8 NHWC where the profile allows and the
normalisation (backends/device_input.py) is compiled with the model: inductor fuses it into the first kernels.
Not run on a GPU in the session that added it. One thread, one buffer: copies and compute do not overlap here
(backends/torch_cuda.py's pipeline is the eager backend's).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bench.backends import torch_common
from bench.backends.base import Availability, Backend, BackendOptions, Support, argmax_classes
from bench.cache import cache_dir

if TYPE_CHECKING:  # type hints only: the declarations import without numpy (`bench run --help`)
    import numpy as np

# A cache directory the user chose before bench started wins; otherwise inductor's caches go under the bench cache.
_USER_INDUCTOR_CACHE = os.environ.get("TORCHINDUCTOR_CACHE_DIR")


class DeviceThread:
    """Runs every call on one thread of its own, whoever calls; the caller waits for the result or the exception."""

    def __init__(self, name: str):
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while (job := self.jobs.get()) is not None:
            fn, args, done, out = job
            try:
                out["value"] = fn(*args)
            except BaseException as exc:  # handed to the caller, never lost on this thread
                out["error"] = exc
            done.set()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        done, out = threading.Event(), {}
        self.jobs.put((fn, args, done, out))
        done.wait()
        if "error" in out:
            raise out["error"]
        return out["value"]

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join(timeout=10)


class TorchCompileBackend(Backend):
    """torch.compile of the eager model; probing, threads and TF32 are shared with the eager backend
    (backends/torch_common.py)."""

    name = "torch-compile"
    pip_extra = "torch"
    packages = torch_common.PACKAGES
    model_format = "torch"
    # Set by torch_common.setup() in load().
    torch: Any
    torch_device: Any
    on_cuda: bool
    dtype: Any
    SUPPORTS = {
        "cpu": Support(("fp32", "bf16"), options=("streams", "compile_mode"), needs={"bf16": "native_bf16"}),
        "cuda": Support(("fp32", "tf32", "bf16", "fp16"), options=("compile_mode",)),
    }

    @classmethod
    def probe(cls) -> Availability:
        return torch_common.probe(cls.pip_extra)

    def load(self, model, options: BackendOptions) -> None:
        # Inductor reads its cache location from the environment each time it looks (and importing it sets a default).
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = _USER_INDUCTOR_CACHE or str(cache_dir("inductor"))
        import torch
        import torch._inductor.config as inductor_config
        from torch._dynamo.utils import counters

        from bench.backends import cpu_streams
        from bench.models import build_torch

        torch_common.setup(self, torch, options)  # device, dtype, threads (streams as the eager backend), TF32
        self.mode = options.extra.get("compile_mode") or "default"
        self.freezing = not self.on_cuda
        # Freezing folds weights into the graph as constants (and prepacks them for oneDNN): inference only.
        inductor_config.freezing = self.freezing
        self.max_batch = options.batch_size  # the one compiled batch
        # CPU: float32, as the CPU's other compiled paths were measured; CUDA: uint8 where exact (torch_common).
        self.sample_form = torch_common.sample_form(model.preprocessing, self.on_cuda, "float32-nchw")
        self.profile, self.h2d = model.preprocessing, 0
        eager = build_torch(model).to(self.torch_device, self.dtype)
        counters.clear()
        start = time.perf_counter()
        self.thread = DeviceThread(f"torch-compile-{self.device}") if self.on_cuda else None
        self.host = None
        self._call(self._compile, eager, model.input_size)
        self.compile_s = time.perf_counter() - start
        self.cache = {k: v for k, v in counters["inductor"].items() if k.startswith("fxgraph_cache")}
        if not self.on_cuda:  # compiled on the main thread: its OpenMP team goes (see cpu_streams)
            self.openmp_released = cpu_streams.release_openmp_team()

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.thread.call(fn, *args) if self.thread else fn(*args)

    def _compile(self, eager, size: int) -> None:
        torch = self.torch
        pixels = self.sample_form == "uint8-nhwc"
        if pixels:  # normalisation compiled in front of the model, one graph
            from bench.backends.device_input import normaliser

            eager = torch.nn.Sequential(
                normaliser(torch, self.profile, self.dtype, torch.contiguous_format, self.torch_device), eager)
        self.model = torch.compile(eager, mode=self.mode, dynamic=False)
        shape = (self.max_batch, size, size, 3) if pixels else (self.max_batch, 3, size, size)
        with torch.inference_mode():  # the first call compiles: here, outside the timed region
            self.model(torch.zeros(shape, device=self.torch_device, dtype=torch.uint8 if pixels else self.dtype))
        if self.on_cuda:
            self.host = torch.zeros(shape, dtype=torch.uint8 if pixels else torch.float32).pin_memory()
            torch.cuda.synchronize(self.torch_device)

    def _forward(self, batch: np.ndarray):
        n = len(batch)
        if n > self.max_batch:
            raise RuntimeError(f"batch of {n} is larger than the compiled batch {self.max_batch}")
        return self._call(self._run, batch)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        torch, n = self.torch, len(batch)
        with torch.inference_mode():
            if self.host is not None:  # CUDA: the previous call's .cpu() has finished with the pinned buffer
                # Rows past n keep the previous batch: the compiled shape is kept, their outputs dropped.
                self.host[:n].copy_(torch.from_numpy(batch))
                x = self.host.to(self.torch_device, non_blocking=True)
                self.h2d += 1  # counted where it happens: the record's data path reads it
                if self.sample_form != "uint8-nhwc":
                    x = x.to(self.dtype)
            else:
                x = torch.from_numpy(batch).to(self.torch_device, self.dtype)
                if n < self.max_batch:  # pad to the compiled shape: no recompile in the timed region
                    x = torch.cat([x, x.new_zeros((self.max_batch - n,) + x.shape[1:])])
            return self.model(x)[:n].float().cpu().numpy()

    @property
    def h2d_copies(self) -> int:
        return self.h2d

    @property
    def pinned_input(self) -> bool | None:
        return self.host.is_pinned() if self.host is not None else None

    def synchronize(self) -> None:
        if self.on_cuda:
            self.torch.cuda.synchronize(self.torch_device)

    def close(self) -> None:
        if getattr(self, "thread", None):  # close() may follow a load that failed before the thread started
            self.thread.close()

    def logits(self, batch: np.ndarray) -> np.ndarray:
        return self._forward(batch)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return argmax_classes(self._forward(batch))

    def describe(self) -> dict:
        info = torch_common.describe(self)  # name, versions, device, precision, threads, streams, batch, GPU
        if not self.on_cuda:
            info["main_thread_openmp_released"] = self.openmp_released
        info.update({
            "dtype": str(self.dtype).removeprefix("torch."),
            "sample_form": self.sample_form,
            "compiled_batch": self.max_batch,
            "batch_shapes": "static; smaller batches zero-padded to compiled_batch",
            "compile_mode": self.mode,
            "inductor_freezing": self.freezing,
            **({"calling_thread": "one dedicated thread per device compiles and makes every call (CUDA-graph "
                                  "trees are thread-local: pytorch#123177)",
                "pinned_host_buffers": self.pinned_input, "non_blocking_h2d": True, "h2d_copies": self.h2d}
               if self.thread else {}),
            "compile_s": round(self.compile_s, 3),
            "inductor_cache_dir": os.environ.get("TORCHINDUCTOR_CACHE_DIR"),
            "fx_graph_cache": self.cache,
            "reused_from_cache": "compiled kernels" + ("" if self.cache.get("fxgraph_cache_hit") else
                                                       "; FX graph cache bypassed (frozen mkldnn weights)"
                                                       if self.cache.get("fxgraph_cache_bypass") else ""),
        })
        return info
