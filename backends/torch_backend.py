"""PyTorch eager backend: CPU, and CUDA when asked and present.

On CUDA: channels_last (cuDNN's tensor-core kernels want NHWC), cudnn.benchmark for the fixed shapes, and
`concurrency` CUDA streams in a worker pool, each with its own pinned host buffer, so one batch's host copy
overlaps another's kernels. The host-to-device copy happens inside predict, i.e. inside LoadGen's timed region. CUDA graphs
(RunConfig.extra["cuda_graphs"]) replay one captured batch shape and run smaller batches padded up to it: they pay
where launch overhead dominates (small batches, SingleStream).

On the CPU: the memory format is chosen at load by timing both (oneDNN's NHWC kernels win on some CPUs and models,
lose on others), unless the channels_last option says; describe() records the choice and both timings.
`--streams N` runs N worker threads, each forward on threads // N OpenMP threads (backends/torch_common.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backends import torch_common
from backends.base import Availability, Backend, BackendOptions, Support
from backends.worker_pool import WorkerPool

if TYPE_CHECKING:  # type hints only: the declarations import without numpy (`bench run --help`)
    import numpy as np

CPU_BF16 = {"bf16": "native_bf16"}


class TorchBackend(Backend):
    name = "torch"
    pip_extra = "torch"
    packages = torch_common.PACKAGES
    model_format = "torch"
    # Set by torch_common.setup() in load().
    torch: Any
    torch_device: Any
    on_cuda: bool
    dtype: Any
    SUPPORTS = {
        "cpu": Support(("fp32", "bf16"), options=("streams", "channels_last"), needs=CPU_BF16),
        "cuda": Support(("fp32", "tf32", "bf16", "fp16"), options=("cuda_graphs", "gpu_streams", "channels_last")),
    }

    @classmethod
    def probe(cls) -> Availability:
        return torch_common.probe(cls.pip_extra)

    def load(self, model, options: BackendOptions) -> None:
        import torch

        from backends import cpu_streams
        from bench.models import build_torch

        torch_common.setup(self, torch, options)
        self.model = build_torch(model).to(self.torch_device, self.dtype)
        self.input_size = getattr(model, "input_size", 224)
        self.max_batch = options.batch_size  # the scenario's largest batch
        self.format_choice: dict | None = None
        self.cuda_info: dict = {}
        if self.on_cuda:
            self._setup_cuda(options)
        else:
            self._choose_memory_format(options)
            self.openmp_released = cpu_streams.release_openmp_team()  # the last torch work on the main thread

    def _choose_memory_format(self, options: BackendOptions) -> None:
        """channels_last or contiguous on the CPU: as asked, else the faster of both at this batch (untimed load)."""
        from backends.memory_format import choose

        torch = self.torch
        shape = (self.max_batch, 3, self.input_size, self.input_size)
        asked = options.extra.get("channels_last")
        self.format_choice = choose(torch, self.model, shape, self.dtype, asked)
        self.memory_format = torch.channels_last if self.format_choice["channels_last"] else torch.contiguous_format
        self.model = self.model.to(memory_format=self.memory_format)

    def _forward(self, batch: np.ndarray):
        torch = self.torch
        if self.on_cuda:
            return self._forward_cuda(batch)
        with torch.inference_mode():
            # fp32: from_numpy shares the harness's buffer (no copy); channels_last reorders it once, as the
            # first convolution would otherwise do.
            x = torch.from_numpy(batch).to(self.dtype).contiguous(memory_format=self.memory_format)
            return self.model(x)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        from backends.base import argmax_classes

        out = self._forward(batch)
        return argmax_classes(out.float().cpu().numpy()) if out.shape[1] == 1001 else out.argmax(1).cpu().numpy()

    def logits(self, batch: np.ndarray) -> np.ndarray:
        return self._forward(batch).float().cpu().numpy()

    def synchronize(self) -> None:
        if self.on_cuda:
            self.torch.cuda.synchronize(self.torch_device)

    def describe(self) -> dict:
        info = torch_common.describe(self)
        if self.split is not None:
            info["memory_format"] = self.format_choice
            info["main_thread_openmp_released"] = self.openmp_released
        info.update(self.cuda_info)  # streams, CUDA graphs: eager CUDA only
        if self.on_cuda:  # what predict's copies did (the warm-up ran them), not a constant
            slots = self.pool.items
            info["h2d_copies"] = self.h2d_copies
            info["h2d_copy_in_timed_region"] = self.h2d_copies > 0
            pinned = [s["pinned"] for s in slots if s["pinned"] is not None]
            info["pinned_host_buffers"] = all(pinned) if pinned else None
        return info

    @property
    def h2d_copies(self) -> int:
        """Host-to-device copies predict() made on CUDA (bench/run/sut.py reports them per timed batch)."""
        return sum(s["h2d"] for s in self.pool.items) if self.on_cuda else 0

    # ---- CUDA --------------------------------------------------------------------------------------------

    def _setup_cuda(self, options: BackendOptions) -> None:
        torch = self.torch
        torch.backends.cudnn.benchmark = True  # fixed input shapes: pick the fastest conv algorithms once
        extra = options.extra
        self.channels_last = bool(extra.get("channels_last", True))
        self.memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        self.model = self.model.to(memory_format=self.memory_format)
        single = options.intent == "latency"
        # Two streams let one thread copy its batch while the other's kernels run; a latency scenario has one query.
        self.concurrency = int(extra.get("gpu_streams") or (1 if single else 2))
        self.graph_batch = self.max_batch if extra.get("cuda_graphs") else None
        self.pool = WorkerPool(self._make_stream() for _ in range(self.concurrency))
        self.cuda_info = {
            **torch_common.gpu_identity(self),
            "cudnn": torch.backends.cudnn.version(),
            "channels_last": self.channels_last,
            "streams": self.concurrency,
            "non_blocking_h2d": True,
            "h2d": "numpy batch -> pinned host buffer -> non_blocking copy on the slot's own stream, inside predict",
            "cuda_graphs": ({"batch": self.graph_batch, "smaller_batches": "run padded to it; extra rows dropped"}
                            if self.graph_batch else False),
            "ran_on": self.device,
        }

    def _make_stream(self) -> dict:
        """One worker's CUDA stream, its pinned host buffer (made at first use) and its CUDA graph if asked."""
        torch = self.torch
        slot = {"stream": torch.cuda.Stream(self.torch_device), "host": None, "copied": torch.cuda.Event(), "h2d": 0,
                "pinned": None}  # each slot counts its own H2D copies, where they happen
        if self.graph_batch:
            slot.update(self._capture(slot["stream"], self.graph_batch))
        return slot

    def _capture(self, stream, batch: int) -> dict:
        """Capture one forward at a fixed batch as a CUDA graph, after warm-up iterations on the same stream."""
        torch = self.torch
        size = self.input_size
        static_in = torch.zeros((batch, 3, size, size), device=self.torch_device, dtype=self.dtype).contiguous(
            memory_format=self.memory_format)
        stream.wait_stream(torch.cuda.current_stream(self.torch_device))
        with torch.inference_mode(), torch.cuda.stream(stream):
            for _ in range(3):
                self.model(static_in)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, stream=stream):
                static_out = self.model(static_in)
        torch.cuda.synchronize(self.torch_device)
        return {"graph": graph, "static_in": static_in, "static_out": static_out}

    def _forward_cuda(self, batch: np.ndarray):
        """Host copy into pinned memory, non-blocking H2D on the slot's stream, forward; all inside the timed region."""
        torch = self.torch
        with self.pool.use() as slot:
            n = len(batch)
            slot["copied"].synchronize()  # this slot's previous H2D has left its pinned buffer: safe to overwrite
            host = slot["host"]
            if host is None or host.shape[0] < n or host.shape[1:] != batch.shape[1:]:
                host = slot["host"] = torch.empty((max(n, self.max_batch), *batch.shape[1:]),
                                                  dtype=torch.float32, pin_memory=True)
            host[:n].copy_(torch.from_numpy(batch))
            stream = slot["stream"]
            with torch.inference_mode(), torch.cuda.stream(stream):
                x = host[:n].to(self.torch_device, non_blocking=True)
                slot["h2d"] += 1  # counted inside predict (the timed path): describe() and the record read it
                slot["pinned"] = host.is_pinned()
                slot["copied"].record(stream)
                if "graph" in slot and n <= self.graph_batch:
                    # Rows past n keep the previous batch's data: their outputs are computed and dropped.
                    slot["static_in"][:n].copy_(x)  # converts dtype and layout on the device
                    slot["graph"].replay()
                    out = slot["static_out"][:n].clone()  # stream-ordered before the next replay overwrites it
                else:
                    out = self.model(x.to(self.dtype).contiguous(memory_format=self.memory_format))
            # The caller's stream (argmax, .cpu()) must see this slot's work, and the allocator must not hand
            # `out`'s memory to the slot's stream while the caller's stream still reads it.
            current = torch.cuda.current_stream(self.torch_device)
            current.wait_stream(stream)
            out.record_stream(current)
            return out
