"""PyTorch eager backend: CPU, and CUDA when asked and present.

On CUDA: channels_last (cuDNN's tensor-core kernels want NHWC), cudnn.benchmark for the fixed shapes, and
`concurrency` slots, each with its own stream and pinned host buffer, so one batch's host copy overlaps another's
kernels. The host-to-device copy happens inside predict, i.e. inside LoadGen's timed region. CUDA graphs
(RunConfig.extra["cuda_graphs"]) replay one captured batch shape and run smaller batches padded up to it: they pay
where launch overhead dominates (small batches, SingleStream).

On the CPU: the memory format is chosen at load by timing both (oneDNN's NHWC kernels win on some CPUs and models,
lose on others), unless RunConfig.extra["channels_last"] says; describe() records the choice and both timings.
`--streams N` runs N worker threads, each forward on threads // N OpenMP threads: torch.set_num_threads is
process-global, but every stream gets the same share, and each calling thread gets its own OpenMP team.
"""

from __future__ import annotations

import importlib.util
import queue

import numpy as np

from backends.base import Availability, Backend, BackendOptions
from backends.precision import require_native_bf16
from bench.errors import BackendUnavailable


def set_tf32(torch, precision: str) -> None:
    """fp32 on CUDA is strict fp32: cuDNN convolutions default to TF32, so both switches are set either way."""
    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


_DEFAULT_THREADS: list[int] = []


def default_threads(torch) -> int:
    """torch's own default (the physical cores), read before any load of this process changes it."""
    if not _DEFAULT_THREADS:
        _DEFAULT_THREADS.append(torch.get_num_threads())
    return _DEFAULT_THREADS[0]


class TorchBackend(Backend):
    name = "torch"
    extra = "torch"
    precisions = ("fp32", "tf32", "bf16", "fp16")
    devices = ("cpu", "cuda")

    @classmethod
    def probe(cls) -> Availability:
        if importlib.util.find_spec("torch") is None:
            return Availability(False, f"PyTorch is not installed: pip install 'bench[{cls.extra}]'")
        import torch

        devices = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else ["cpu"]
        return Availability(True, version=torch.__version__, devices=devices)

    @classmethod
    def check_options(cls, options: BackendOptions) -> None:
        super().check_options(options)
        from backends.precision import refuse_tf32_off_cuda

        refuse_tf32_off_cuda(cls.name, options, "fp32, and bf16 where the CPU has it natively")
        if options.precision == "fp16" and not options.device.startswith("cuda"):
            raise BackendUnavailable(
                f"backend {cls.name} runs fp16 only on CUDA devices; on the CPU it supports: fp32, and bf16 where the CPU has it natively"
            )
        if options.precision == "bf16" and not options.device.startswith("cuda"):
            require_native_bf16(cls.name, ("fp32",))

    def load(self, model, options: BackendOptions) -> None:
        import torch

        from backends import cpu_streams
        from bench.models import build_torch
        from bench.system.devices import canonical

        self.options = options
        self.split = None
        if not options.device.startswith("cuda"):
            # torch's own default is the physical cores; --threads is the total, shared by the streams.
            self.split = cpu_streams.split(options, default_threads(torch))
            torch.set_num_threads(self.split.per_stream)
            self.concurrency = self.parallel_streams = self.split.streams
        elif options.threads:
            torch.set_num_threads(options.threads)

        self.device = torch.device(canonical(options.device))  # `cuda` is recorded as the cuda:0 it ran on
        # bf16: weights and activations converted once (.to), so oneDNN runs bf16 (AMX/AVX-512 BF16) kernels.
        self.dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(options.precision, torch.float32)
        self.model = build_torch(model).to(self.device, self.dtype)
        self.torch = torch
        self.input_size = getattr(model, "input_size", 224)
        if self.device.type == "cuda":
            self._setup_cuda(options)
        else:
            self._choose_memory_format(options)
            self.openmp_released = cpu_streams.release_openmp_team()  # the last torch work on the main thread

    def _choose_memory_format(self, options: BackendOptions) -> None:
        """channels_last or contiguous on the CPU: as asked, else the faster of both at this batch (untimed load)."""
        from backends.memory_format import choose

        torch = self.torch
        shape = (options.batch_size, 3, self.input_size, self.input_size)
        asked = options.extra.get("channels_last")
        self.format_choice = choose(torch, self.model, shape, self.dtype, asked)
        self.memory_format = torch.channels_last if self.format_choice["channels_last"] else torch.contiguous_format
        self.model = self.model.to(memory_format=self.memory_format)

    def _forward(self, batch: np.ndarray):
        torch = self.torch
        if self.device.type == "cuda":
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
        if self.device.type == "cuda":
            self.torch.cuda.synchronize(self.device)

    def describe(self) -> dict:
        torch = self.torch
        info = {
            "name": self.name,
            "version": torch.__version__,
            "device": str(self.device),
            "precision": self.options.precision,
            "threads": torch.get_num_threads(),
            "batch_size": self.options.batch_size,
            "tf32": False,
        }
        if self.split is not None:
            info.update(self.split.describe())
            info["memory_format"] = getattr(self, "format_choice", None)
            info["main_thread_openmp_released"] = getattr(self, "openmp_released", [])
        if self.device.type == "cuda":
            info["gpu"] = torch.cuda.get_device_name(self.device)
            info["cuda"] = torch.version.cuda
            info["tf32"] = bool(torch.backends.cudnn.allow_tf32 or torch.backends.cuda.matmul.allow_tf32)
            info.update(getattr(self, "cuda_info", {}))  # streams/pinned buffers: eager CUDA only
        return info

    # ---- CUDA --------------------------------------------------------------------------------------------

    def _setup_cuda(self, options: BackendOptions) -> None:
        torch = self.torch
        from bench.system.devices import gpu_identity

        torch.backends.cudnn.benchmark = True  # fixed input shapes: pick the fastest conv algorithms once
        set_tf32(torch, options.precision)
        extra = options.extra
        self.channels_last = bool(extra.get("channels_last", True))
        self.memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        self.model = self.model.to(memory_format=self.memory_format)
        single = options.intent == "latency"
        # Two slots let one thread copy its batch while the other's kernels run; a latency scenario has one query.
        self.concurrency = int(extra.get("gpu_streams") or (1 if single else 2))
        self.graph_batch = options.batch_size if extra.get("cuda_graphs") else None
        self.slots: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(self.concurrency):
            self.slots.put(self._make_slot())
        self.cuda_info = {
            **gpu_identity(self.device.index or 0),
            "cudnn": torch.backends.cudnn.version(),
            "channels_last": self.channels_last,
            "streams": self.concurrency,
            "pinned_host_buffers": True,
            "non_blocking_h2d": True,
            "h2d_copy_in_timed_region": True,
            "h2d": "numpy batch -> pinned host buffer -> non_blocking copy on the slot's own stream, inside predict",
            "cuda_graphs": ({"batch": self.graph_batch, "smaller_batches": "run padded to it; extra rows dropped"}
                            if self.graph_batch else False),
            "ran_on": str(self.device),
        }

    def _make_slot(self) -> dict:
        torch = self.torch
        slot = {"stream": torch.cuda.Stream(self.device), "host": None, "copied": torch.cuda.Event()}
        if self.graph_batch:
            slot.update(self._capture(slot["stream"], self.graph_batch))
        return slot

    def _capture(self, stream, batch: int) -> dict:
        """Capture one forward at a fixed batch as a CUDA graph, after warm-up iterations on the same stream."""
        torch = self.torch
        size = self.input_size
        static_in = torch.zeros((batch, 3, size, size), device=self.device, dtype=self.dtype).contiguous(
            memory_format=self.memory_format)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.inference_mode(), torch.cuda.stream(stream):
            for _ in range(3):
                self.model(static_in)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, stream=stream):
                static_out = self.model(static_in)
        torch.cuda.synchronize(self.device)
        return {"graph": graph, "static_in": static_in, "static_out": static_out}

    def _forward_cuda(self, batch: np.ndarray):
        """Host copy into pinned memory, non-blocking H2D on the slot's stream, forward; all inside the timed region."""
        torch = self.torch
        slot = self.slots.get()
        try:
            n = len(batch)
            slot["copied"].synchronize()  # this slot's previous H2D has left its pinned buffer: safe to overwrite
            host = slot["host"]
            if host is None or host.shape[0] < n or host.shape[1:] != batch.shape[1:]:
                host = slot["host"] = torch.empty((max(n, self.options.batch_size), *batch.shape[1:]),
                                                  dtype=torch.float32, pin_memory=True)
            host[:n].copy_(torch.from_numpy(batch))
            stream = slot["stream"]
            with torch.inference_mode(), torch.cuda.stream(stream):
                x = host[:n].to(self.device, non_blocking=True)
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
            current = torch.cuda.current_stream(self.device)
            current.wait_stream(stream)
            out.record_stream(current)
            return out
        finally:
            self.slots.put(slot)
