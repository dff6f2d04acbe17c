"""Where derived artefacts (ONNX exports, preprocessed datasets, engines) are cached, and atomic writes."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """$BENCH_CACHE, else $XDG_CACHE_HOME/bench, else ~/.cache/bench."""
    root = os.environ.get("BENCH_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "bench"
    path = Path(root, *parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from bench.errors import UsageError

        raise UsageError(f"cannot use the cache directory {path}: {exc.strerror or exc}. Point BENCH_CACHE at a "
                         "writable directory (it is a file, read-only or full?)") from exc
    return path


def npy_damage(path: Path, shape: tuple, meta_ok: bool = True) -> str | None:
    """What is wrong with a float32 .npy cache file (cut short, another shape, a broken header); None if whole."""
    import numpy as np

    try:
        mapped = np.load(path, mmap_mode="r")  # reads the header; mapping fails if the file is shorter than it says
        found, dtype, offset = mapped.shape, mapped.dtype, mapped.offset
        del mapped
        actual = path.stat().st_size
    except (OSError, ValueError, EOFError) as exc:
        return f"{type(exc).__name__}: {exc}"
    if found != shape or dtype != np.float32 or not meta_ok:
        return f"holds {found} {dtype}, expected {shape} float32"
    expected = offset + int(np.prod(shape)) * 4
    if actual != expected:
        return f"{actual:,} bytes, expected {expected:,}: cut short or appended to"
    return None


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def current_umask() -> int:
    """The process's umask, read without changing it where Linux says it (os.umask must set it to read it)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, data: bytes | str) -> None:
    """Write to a temporary file beside `path`, fsync, then rename: readers never see half a file.

    The file gets the mode open() would give it (0666 less the umask: 0644 under umask 022), not mkstemp's
    private 0600, so a teammate's `bench report` reads result.json and latencies.npy as it reads LoadGen's logs.
    """
    path = Path(path)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            os.fchmod(f.fileno(), 0o666 & ~current_umask())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
