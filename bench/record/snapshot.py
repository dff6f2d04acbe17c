"""The inputs a run read, frozen into its run directory at run time: a record describes what ran, not what the
files say later. `bench tune` rewrites its user.conf on every run, so a submission that copied the file from its
path at submission time filed settings no run used; it copies the snapshot instead.
"""

from __future__ import annotations

from pathlib import Path

from bench.cache import atomic_write, file_sha256
from bench.errors import UsageError
from bench.record import codec

USER_CONF = "user.conf"  # the run directory's copy of --user-conf
USER_CONF_BYTES = 1024 * 1024  # a user.conf is a few lines


def take(cfg, run_dir: Path, dataset) -> dict:
    """Copy --user-conf into the run directory and note the val_map's sha256; returns the record's `snapshot`."""
    snap: dict = {}
    if cfg.user_conf:
        try:
            data = Path(cfg.user_conf).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read --user-conf {cfg.user_conf}: {exc.strerror or exc}") from exc
        atomic_write(run_dir / USER_CONF, data)
        snap["user_conf"] = {"source": str(cfg.user_conf), "file": USER_CONF, "sha256": file_sha256(run_dir / USER_CONF)}
    val_map = getattr(dataset, "val_map", None)
    if val_map is not None:
        snap["val_map"] = {"path": str(val_map), "sha256": file_sha256(val_map)}
    return snap


def user_conf(record: dict, run_dir: str | Path) -> str | None:
    """The user.conf a run used, from its snapshot; None if it ran without one (or predates snapshots)."""
    snap = (record.get("snapshot") or {}).get("user_conf")
    path = Path(run_dir) / USER_CONF
    if isinstance(snap, dict) and (path.exists() or path.is_symlink()):
        try:  # a copied run directory is input like any other: a FIFO or an endless file is refused, not read
            return codec.read_bounded(path, USER_CONF_BYTES).decode()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{path}: not a readable user.conf ({getattr(exc, 'strerror', None) or exc})") from exc
    return None
