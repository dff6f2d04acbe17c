"""What the torch backends share (eager `torch` and `torch-compile`): probing, threads, TF32, the dtype of a
precision, and the common part of describe(). Each backend is its own class over `Backend`; neither inherits
the other, so each one's describe() says only what it set."""

from __future__ import annotations

import importlib.util

from bench.backends import cpu_streams
from bench.backends.base import Availability, BackendOptions

PACKAGES = ("torch",)
_DEFAULT_THREADS: list[int] = []


def probe(pip_extra: str) -> Availability:
    if importlib.util.find_spec("torch") is None:
        return Availability(False, f"PyTorch is not installed: pip install 'bench[{pip_extra}]'")
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return Availability(True, version=torch.__version__, devices=["cpu"] + [f"cuda:{i}" for i in range(gpus)])


def set_tf32(torch, precision: str) -> None:
    """fp32 on CUDA is strict fp32: cuDNN convolutions default to TF32, so both switches are set either way."""
    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


def default_threads(torch) -> int:
    """torch's own default (the physical cores), read before any load of this process changes it."""
    if not _DEFAULT_THREADS:
        _DEFAULT_THREADS.append(torch.get_num_threads())
    return _DEFAULT_THREADS[0]


def dtype(torch, precision: str):
    """bf16 and fp16: weights and activations converted once (.to); fp32 and tf32 stay float32."""
    return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision, torch.float32)


def setup(backend, torch, options: BackendOptions) -> None:
    """Device, threads and TF32 of a torch backend: on the CPU, --threads is the total, shared by the streams
    (each stream's forward on threads // streams OpenMP threads: torch.set_num_threads is process-global, but
    every stream gets the same share, and each calling thread gets its own OpenMP team)."""
    from bench.system.devices import canonical

    backend.torch, backend.options = torch, options
    backend.device = canonical(options.device)  # `cuda` is recorded as the cuda:0 it ran on
    backend.torch_device = torch.device(backend.device)
    backend.on_cuda = backend.torch_device.type == "cuda"
    backend.dtype = dtype(torch, options.precision)
    split = cpu_streams.apply(backend, options, default_threads(torch))
    if split is not None:
        torch.set_num_threads(split.per_stream)
    elif options.threads:
        torch.set_num_threads(options.threads)
    if backend.on_cuda:
        set_tf32(torch, options.precision)


def sample_form(profile: str, on_cuda: bool, cpu_form: str) -> str:
    """The form the store holds for a torch backend: uint8 NHWC normalised on the device where the profile's resize
    yields integers (bench.data.preprocessing.integer_pixels); on the CPU the measured faster form (`cpu_form`)."""
    from bench.data.preprocessing import integer_pixels

    if not integer_pixels(profile):
        return "float32-nchw"  # no exact uint8 form: normalised on the host, as before
    return "uint8-nhwc" if on_cuda else cpu_form


def describe(backend) -> dict:
    """name, version, device, precision, threads, batch, TF32, and the CPU split or the GPU's identity."""
    torch = backend.torch
    info = {
        "name": backend.name,
        "version": torch.__version__,
        "device": backend.device,
        "precision": backend.options.precision,
        "threads": torch.get_num_threads(),
        "batch_size": backend.options.batch_size,
        "tf32": False,
    }
    if backend.split is not None:
        info.update(backend.split.describe())
    if backend.on_cuda:
        info["gpu"] = torch.cuda.get_device_name(backend.torch_device)
        info["cuda"] = torch.version.cuda
        info["tf32"] = bool(torch.backends.cudnn.allow_tf32 or torch.backends.cuda.matmul.allow_tf32)
    return info


def gpu_identity(backend) -> dict:
    from bench.system.devices import gpu_identity as identity

    return identity(backend.torch_device.index or 0)
