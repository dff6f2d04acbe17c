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
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def atomic_write(path: str | Path, data: bytes | str) -> None:
    """Write to a temporary file beside `path`, fsync, then rename: readers never see half a file."""
    path = Path(path)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
