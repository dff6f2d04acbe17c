"""Device strings: `cpu`, `cuda`, `cuda:N`, `cuda:0,1`, `cuda:all`. Parsed strictly so nonsense stops at the edge.

Other device kinds (OpenVINO's `GPU`, `NPU`, ...) are left to the backend that knows them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from bench.errors import UsageError

_CUDA = re.compile(r"cuda(?::(?P<spec>.*))?")
HELP = "use cuda, cuda:N, cuda:0,1 (several GPUs) or cuda:all"


@dataclass(frozen=True)
class CudaDevices:
    """The CUDA ordinals a run asked for; `every` means `cuda:all` (resolved once the GPU count is known)."""

    indices: tuple[int, ...] = ()
    every: bool = False

    @property
    def multi(self) -> bool:
        return self.every or len(self.indices) > 1

    def resolve(self, count: int) -> list[int]:
        """Concrete ordinals, checked against the `count` GPUs that CUDA shows."""
        if self.every:
            if count == 0:
                raise UsageError("--device cuda:all asked for, but no CUDA GPU is visible here. "
                                 "Nothing was run on the CPU instead.")
            return list(range(count))
        missing = [i for i in self.indices if i >= count]
        if missing:
            raise UsageError(f"--device asks for GPU {', '.join(map(str, missing))}, but CUDA shows {count} "
                             f"GPU(s) here. Nothing was run on the CPU instead.")
        return list(self.indices)


def parse_cuda(device: str) -> CudaDevices | None:
    """None for a non-CUDA device string; a UsageError (exit 2) for a malformed CUDA one."""
    match = _CUDA.fullmatch(device.strip())
    if not match:
        if device.lower().startswith("cuda"):  # cuda0, CUDA:1, cudax: a typo, never "some other device"
            raise UsageError(f"--device {device!r} is not a device string: {HELP}")
        return None
    spec = match.group("spec")
    if spec is None:
        return CudaDevices((0,))
    if spec == "all":
        return CudaDevices(every=True)
    parts = spec.split(",")
    if not all(re.fullmatch(r"\d+", p) for p in parts):
        raise UsageError(f"--device {device!r}: {spec!r} is not a GPU index list; {HELP}")
    indices = tuple(int(p) for p in parts)
    if len(set(indices)) != len(indices):
        raise UsageError(f"--device {device!r} names a GPU twice; {HELP}")
    return CudaDevices(indices)


def validate(device: str) -> None:
    """Called by RunConfig: `cpu`, a well-formed CUDA string, or another backend-specific name."""
    if not device or not device.strip() or any(c.isspace() for c in device):
        raise UsageError(f"--device {device!r} is empty or holds spaces: use cpu, or {HELP}")
    if device.startswith("cpu") and device != "cpu":
        raise UsageError(f"--device {device!r}: the CPU takes no index; use --device cpu")
    parse_cuda(device)


def canonical(device: str) -> str:
    """`cuda` is `cuda:0`: the record names the GPU that ran, whatever the user typed."""
    cuda = parse_cuda(device)
    return device if cuda is None or cuda.multi else f"cuda:{cuda.indices[0]}"


def cuda_pci_bus_id(cuda_ordinal: int) -> str | None:
    """The PCI bus id CUDA gives its device `cuda_ordinal` ("00000000:1B:00.0"), from a CUDA binding this
    process already uses (torch, else cuda-python); None where neither can say."""
    import sys

    try:
        if "torch" in sys.modules and sys.modules["torch"].cuda.is_available():
            p = sys.modules["torch"].cuda.get_device_properties(cuda_ordinal)
            return f"{p.pci_domain_id:08X}:{p.pci_bus_id:02X}:{p.pci_device_id:02X}.0"
    except Exception:
        pass
    try:
        from cuda.bindings import runtime

        err, bus = runtime.cudaDeviceGetPCIBusId(32, cuda_ordinal)
        if int(err) == 0:
            return (bus.decode() if isinstance(bus, bytes) else str(bus)).split("\x00")[0]
    except Exception:
        pass
    return None


def nvml_handle(nvml, cuda_ordinal: int):
    """NVML's handle for a CUDA device, and how it was matched.

    By PCI bus id where a CUDA binding gives it (CUDA's default order is fastest-first, NVML's is PCI order:
    on a mixed machine the indices differ); else through CUDA_VISIBLE_DEVICES, assuming the same order.
    """
    bus = cuda_pci_bus_id(cuda_ordinal)
    # nvidia-ml-py's name: it has no `_v2` of this call (its nvmlDeviceGetHandleByPciBusId calls the C library's
    # _v2 itself); looking for one cost the H200 run its power readings.
    if bus:
        return nvml.nvmlDeviceGetHandleByPciBusId(bus), "pci_bus_id"
    target = nvml_index(cuda_ordinal)
    if isinstance(target, int):
        return nvml.nvmlDeviceGetHandleByIndex(target), "index (CUDA_VISIBLE_DEVICES, same order assumed)"
    return nvml.nvmlDeviceGetHandleByUUID(target), "uuid (CUDA_VISIBLE_DEVICES)"


def nvml_index(cuda_ordinal: int) -> int | str:
    """The NVML index (or UUID) of a CUDA ordinal, through CUDA_VISIBLE_DEVICES when it renumbers GPUs.

    Used where no CUDA binding gives the PCI bus id: assumes CUDA_DEVICE_ORDER=PCI_BUS_ID or GPUs that are
    all alike (CUDA's default "fastest first" order matches NVML's PCI order then).
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if not visible:
        return cuda_ordinal
    entries = [e.strip() for e in visible.split(",") if e.strip()]
    if cuda_ordinal >= len(entries):
        return cuda_ordinal
    entry = entries[cuda_ordinal]
    return int(entry) if entry.isdigit() else entry


def _nvml():
    import pynvml

    pynvml.nvmlInit()
    return pynvml


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def gpu_identity(cuda_ordinal: int) -> dict:
    """What a GPU run ran on, through NVML: name, UUID, PCI bus, memory, driver and the driver's CUDA version."""
    try:
        nvml = _nvml()
        handle, _ = nvml_handle(nvml, cuda_ordinal)
        cuda = nvml.nvmlSystemGetCudaDriverVersion_v2()
        return {
            "gpu_name": _text(nvml.nvmlDeviceGetName(handle)),
            "gpu_uuid": _text(nvml.nvmlDeviceGetUUID(handle)),
            "pci_bus_id": _text(nvml.nvmlDeviceGetPciInfo(handle).busId),
            "gpu_memory_gb": round(nvml.nvmlDeviceGetMemoryInfo(handle).total / 2**30, 1),
            "driver": _text(nvml.nvmlSystemGetDriverVersion()),
            "cuda_driver": f"{cuda // 1000}.{cuda % 1000 // 10}",
        }
    except Exception as exc:  # identity is informative; the backend itself already proved the GPU is there
        return {"nvml": f"unavailable ({type(exc).__name__}: {exc})"}


def nvml_gpu_count() -> int:
    """GPUs this process may use (NVML's count, narrowed by CUDA_VISIBLE_DEVICES); 0 without a driver."""
    try:
        count = _nvml().nvmlDeviceGetCount()
    except Exception:
        return 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return min(count, len([e for e in visible.split(",") if e.strip()]))
    return count
