"""Resource budgets before work: a LoadGen run's memory is estimated from its settings and refused, with the
figure, when the machine does not have it (`--target-qps 1e9` Offline asked LoadGen for about 170 GB, and the
kernel's OOM killer then ended the run with no record)."""

from __future__ import annotations

from pathlib import Path

import mlperf_loadgen as lg

from bench.errors import UsageError

# Bytes per sample LoadGen schedules, measured (LoadGen 5.x, Python 3.11, a FastSUT answering lists of ids):
# Offline 1.1e6 samples -> +423 MB, 4.4e6 -> +1742 MB; Server 2e5 queries -> +69 MB. The schedule, the
# per-sample records and our responses' lists, together.
LOADGEN_BYTES_PER_SAMPLE = 400


def scheduled_samples(ts: lg.TestSettings, scenario) -> int:
    """Samples LoadGen will schedule up front for these settings (performance mode): the scenario's own count,
    within the query-count bounds every scenario shares."""
    count = max(scenario.scheduled_samples(ts), ts.min_query_count)
    return int(min(count, ts.max_query_count) if ts.max_query_count else count)


def available_bytes() -> int | None:
    """Memory this process can still take: MemAvailable, bounded by a cgroup (container, Slurm) limit."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError):
        pass
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            cap = Path(limit).read_text().strip()
            if cap != "max" and int(cap) < 1 << 60:
                found.append(int(cap) - int(Path(usage).read_text()))
        except (OSError, ValueError):
            continue
    return min(found) if found else None


def check(ts: lg.TestSettings, scenario, loaded_samples: int, sample_bytes: int, mode: str) -> dict:
    """Refuse a run whose estimated memory exceeds what the machine has; returns the estimate for the record."""
    samples = scheduled_samples(ts, scenario) if mode == "performance" else 0
    need = samples * LOADGEN_BYTES_PER_SAMPLE + loaded_samples * sample_bytes
    have = available_bytes()
    estimate = {"scheduled_samples": samples, "estimated_bytes": need, "available_bytes": have}
    if have is not None and need > have:
        gb = lambda n: f"{n / 1e9:,.1f} GB"  # noqa: E731
        raise UsageError(
            f"this {mode} run would need about {gb(need)} of memory: LoadGen schedules {samples:,} samples "
            f"(~{LOADGEN_BYTES_PER_SAMPLE} B each) and {loaded_samples:,} samples of {sample_bytes / 1e6:.1f} MB "
            f"are loaded; this machine has {gb(have)} available. Lower --target-qps or --duration "
            "(or the user.conf's target_qps / min_duration)")
    return estimate


def sample_bytes(dataset, form: str = "float32-nchw") -> int:
    """Bytes of one sample in the form the store holds it (bench/run/qsl.py): float32 NCHW, or uint8 NHWC."""
    size = getattr(dataset, "size", None) or 224
    return 3 * size * size * (1 if form.startswith("uint8") else 4)
