"""PyTorch eager backend: CPU, and CUDA when asked and present.

On CUDA: channels_last (cuDNN's tensor-core kernels want NHWC), cudnn.benchmark for the fixed shapes, samples sent as
uint8 NHWC and normalised on the device, pinned staging, a copy stream, compute streams, one completion thread, CUDA
graphs per batch size, --input-location: backends/torch_cuda.py.

On the CPU: the sample form is CPU_SAMPLE_FORM (measured: benchmarks/torch_input_form.py); the memory format is chosen at load by timing both (oneDNN's NHWC kernels win on some CPUs and models,
lose on others), unless the channels_last option says; describe() records the choice and both timings.
`--streams N` runs N worker threads, each forward on threads // N OpenMP threads (backends/torch_common.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.backends import torch_common
from bench.backends.base import Availability, Backend, BackendOptions, Support

if TYPE_CHECKING:  # type hints only: the declarations import without numpy (`bench run --help`)
    import numpy as np

CPU_BF16 = {"bf16": "native_bf16"}
# The form torch's CPU path takes, by benchmarks/torch_input_form.py (ResNet-50, batch 8, 2 threads, AMD EPYC, 2 cores
# shared, load 3-9): best uint8+normalise / best float32 = 1.03 and 0.82 in two runs of 40-280% spread, i.e. no
# difference the noise lets us claim (the normalisation and the gather are under 0.1% of a 2.5 s batch). float32
# stays: today's path, no arithmetic added on the host's cores. The record says which form ran (data_path.form).
CPU_SAMPLE_FORM = "float32-nchw"


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
        "cuda": Support(("fp32", "tf32", "bf16", "fp16"),
                        options=("cuda_graphs", "gpu_streams", "channels_last", "input_location")),
    }
    sample_form = "float32-nchw"  # what bench/run/qsl.py holds for it: set in load() per device
    input_location = "host"

    @classmethod
    def probe(cls) -> Availability:
        return torch_common.probe(cls.pip_extra)

    @classmethod
    def check_options(cls, options: BackendOptions) -> None:
        """The declaration, then: --input-location device on one GPU only (the multi-GPU wrapper, which runs each
        GPU's batches through predict(), has no resident set to gather from: it would quietly run host input)."""
        super().check_options(options)
        several = "," in options.device or options.device.endswith(":all")
        if options.extra.get("input_location") == "device" and several:
            raise cls.refusal(options, "--input-location device", "the loaded set is held on one GPU", ("cuda:N",))

    def load(self, model, options: BackendOptions) -> None:
        import torch

        from bench.backends import cpu_streams
        from bench.models import build_torch

        torch_common.setup(self, torch, options)
        self.model = build_torch(model).to(self.torch_device, self.dtype)
        self.input_size = getattr(model, "input_size", 224)
        self.profile = model.preprocessing
        self.max_batch = options.batch_size  # the scenario's largest batch
        self.format_choice: dict | None = None
        self.cuda_info: dict = {}
        self.counters = {"extra_copies": 0}  # host copies of a batch made here (bench/run/sut.py reads them)
        self.sample_form = torch_common.sample_form(self.profile, self.on_cuda, CPU_SAMPLE_FORM)
        if self.on_cuda:
            self._setup_cuda(options)
        else:
            self._choose_memory_format(options)
            if self.sample_form != "float32-nchw":
                from bench.backends.device_input import normaliser

                self.normalise = normaliser(torch, self.profile, self.dtype, self.memory_format, "cpu")
            self.openmp_released = cpu_streams.release_openmp_team()  # the last torch work on the main thread

    def _choose_memory_format(self, options: BackendOptions) -> None:
        """channels_last or contiguous on the CPU: as asked, else the faster of both at this batch (untimed load)."""
        from bench.backends.memory_format import choose

        torch = self.torch
        shape = (self.max_batch, 3, self.input_size, self.input_size)
        asked = options.extra.get("channels_last")
        self.format_choice = choose(torch, self.model, shape, self.dtype, asked)
        self.memory_format = torch.channels_last if self.format_choice["channels_last"] else torch.contiguous_format
        self.model = self.model.to(memory_format=self.memory_format)

    def _forward(self, batch: np.ndarray):
        torch = self.torch
        with torch.inference_mode():
            given = torch.from_numpy(batch)  # shares the harness's buffer
            if batch.dtype.itemsize == 1:  # uint8 NHWC: normalised here, the model's first op
                x = self.normalise(given)
            else:  # fp32: no copy; channels_last reorders once, as the first convolution would otherwise do
                x = given.to(self.dtype).contiguous(memory_format=self.memory_format)
            # A copy of the batch is counted where the model's input is not the harness's buffer: read, not declared.
            self.counters["extra_copies"] += x.data_ptr() != given.data_ptr()
            return self.model(x)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        if self.on_cuda:
            return self.cuda.predict(batch)
        from bench.backends.base import argmax_classes

        out = self._forward(batch)
        return argmax_classes(out.float().numpy()) if out.shape[1] == 1001 else out.argmax(1).numpy()

    def logits(self, batch: np.ndarray) -> np.ndarray:
        if self.on_cuda:
            return self.cuda.logits(batch)
        return self._forward(batch).float().numpy()

    def synchronize(self) -> None:
        if self.on_cuda:
            self.torch.cuda.synchronize(self.torch_device)

    def describe(self) -> dict:
        info = torch_common.describe(self)
        info["sample_form"] = self.sample_form
        if self.split is not None:
            info["memory_format"] = self.format_choice
            info["main_thread_openmp_released"] = self.openmp_released
        if self.on_cuda:
            info.update(self.cuda_info, **self.cuda.describe(), h2d_copies=self.h2d_copies)
        return info

    @property
    def h2d_copies(self) -> int:
        """Batches of samples sent host-to-device (bench/run/sut.py reports them per timed batch); none on the CPU."""
        return self.cuda.h2d if self.on_cuda else 0

    @property
    def pinned_input(self) -> bool | None:
        """Whether the host memory the device copies from is pinned: None where nothing is copied to a device."""
        return self.cuda.pinned if self.on_cuda and self.input_location == "host" else None

    # ---- CUDA (backends/torch_cuda.py) ----------------------------------------------------------------

    def _setup_cuda(self, options: BackendOptions) -> None:
        from bench.backends.torch_cuda import CudaPath

        torch = self.torch
        torch.backends.cudnn.benchmark = True  # fixed input shapes: pick the fastest conv algorithms once
        extra = options.extra
        self.channels_last = bool(extra.get("channels_last", True))
        self.memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        self.model = self.model.to(memory_format=self.memory_format)
        # Two streams let one batch copy while the other's kernels run; a latency scenario has one query.
        self.concurrency = int(extra.get("gpu_streams") or (1 if options.intent == "latency" else 2))
        self.input_location = extra.get("input_location") or "host"
        self.cuda = CudaPath(self, self.concurrency, bool(extra.get("cuda_graphs")), self.input_location)
        self.submit = self.cuda.submit  # the scenarios' asynchronous path (bench/run/sut.py)
        self.counters = self.cuda.counters
        self.cuda_info = {**torch_common.gpu_identity(self), "cudnn": torch.backends.cudnn.version(),
                          "channels_last": self.channels_last, "ran_on": self.device}

    def samples_loaded(self, store) -> None:
        """LoadGen's load_samples (untimed): --input-location device copies the loaded set to the GPU."""
        if self.on_cuda and self.input_location == "device":
            self.cuda.load_resident(store.data)
            self.submit_rows = self.cuda.submit_rows

    def samples_unloaded(self) -> None:
        if self.on_cuda and self.input_location == "device":
            self.__dict__.pop("submit_rows", None)
            self.cuda.drop_resident()

    def close(self) -> None:
        if getattr(self, "cuda", None) is not None:
            self.cuda.close()
