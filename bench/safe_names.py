"""Names that become paths, and trees bench may replace: the one place both are checked.

Every name that becomes a folder or file under a root the user gave (a submitter, a system id, an audit test, a
sweep target, a cell key, a model folder, a run id) is one path component: checked here before any path is built,
so no name can lead out of its root (`..`, `/`, an absolute path) or hide among bench's own dot-files. A name the
user typed is refused with a message naming where it came from; a name bench derives from free text (a system
name in a record) goes through `slug`. A tree is removed to be replaced only when bench's marker stands beside it,
written when bench created it and naming that very directory (device and inode, which a rename keeps) and every
file bench put in it: whatever else sits at that place, or was added to it, is someone else's, and is refused, not
removed. The marker sits beside the tree, not in
it, because MLCommons' submission checker refuses any dot-file inside a submitter's tree.

A leaf module: nothing from bench above bench.errors, so every layer can use it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

from bench.errors import UsageError

# Letters, digits, '_', '.', '-'; not starting with '.' (not '.', '..', nor a hidden name beside bench's own
# `.x.partial` drafts); short enough that a name plus bench's suffixes stays under NAME_MAX (255 bytes).
PATTERN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")
RULE = "one folder name: letters, digits, '_', '.' or '-', not starting with '.', at most 128 characters"
MARKER = ".bench-owned"  # suffix of the file beside each tree bench creates and may later replace
MARKER_LIMIT = 4 << 20  # bytes of a marker read at most (a tree's file list); a longer one is not bench's


def problem(name: object) -> str | None:
    """Why `name` cannot be one safe path component; None when it can."""
    if not isinstance(name, str):
        return f"it is {type(name).__name__}, not text"
    if not PATTERN.fullmatch(name):
        return f"it must be {RULE}"
    return None


def component(name: object, what: str, fix: str = "") -> str:
    """`name` unchanged when it is one safe path component; else a UsageError naming `what` (an option, a field)."""
    why = problem(name)
    if why is not None or not isinstance(name, str):
        raise UsageError(f"{what} {name!r} cannot name a folder: {why}. "
                         + (fix or f"Use, for example, {slug(str(name))!r}"))
    return name


def slug(text: str, fallback: str = "unnamed") -> str:
    """A safe component made from free text: other characters become '_', a leading '.' becomes '_'."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:128]
    name = re.sub(r"^\.", "_", name)
    return name if PATTERN.fullmatch(name) else fallback


def inside(root: str | Path, *parts: str) -> Path:
    """root/part/...: each part checked as a component (ValueError if not), the result provably under root."""
    path = Path(root)
    for part in parts:
        if problem(part) is not None:
            raise ValueError(f"{part!r} is not one safe path component")
        path = path / part
    return path


def check_under(root: Path, path: Path) -> Path:
    """`path` itself, once it resolves (links followed) under `root`; ValueError if a link leads elsewhere."""
    if not path.resolve().is_relative_to(root.resolve()):
        raise ValueError(f"{path} leads to {path.resolve()}, outside {root}")
    return path


def marker(path: Path) -> Path:
    return path.with_name(f".{path.name}{MARKER}")


def _identity(path: Path) -> str:
    st = path.lstat()
    return f"{st.st_dev}:{st.st_ino}"


def _listing(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def _write_marker(path: Path, files: list[str] | None) -> None:
    marker(path).write_text(json.dumps({"tree": _identity(path), "files": files}) + "\n")


def claim(path: Path) -> Path:
    """Create the tree at `path` as bench's own (the marker at once, so a crash mid-build leaves it claimed)."""
    path.mkdir(parents=True, exist_ok=False)
    _write_marker(path, None)  # None: still being written
    return path


def owned(path: Path) -> bool:
    """Whether bench created this very directory and it holds nothing bench did not write there.

    The marker names the directory's inode and lists every path bench wrote; a directory made later at the same
    place (even one given the old inode number), or one the user added a file to, is not bench's to remove.
    """
    if not path.is_dir() or path.is_symlink() or not marker(path).is_file():  # never open a FIFO or a device
        return False
    try:
        with open(marker(path), "rb") as f:
            mark = json.loads(f.read(MARKER_LIMIT + 1)[:MARKER_LIMIT])
        if not isinstance(mark, dict) or mark.get("tree") != _identity(path):
            return False
        files = mark.get("files")
        return files is None or (isinstance(files, list) and set(_listing(path)) <= set(files))
    except (OSError, ValueError):
        return False


def move_owned(src: Path, dest: Path) -> None:
    """Rename a finished tree bench created into place (dest must not exist); its marker lists what it holds."""
    src.rename(dest)
    _write_marker(dest, _listing(dest))
    marker(src).unlink(missing_ok=True)


def check_replaceable(path: Path, what: str, fix: str) -> None:
    """Refuse, before anything is removed, to replace a tree at `path` that bench did not create."""
    if (path.exists() or path.is_symlink()) and not owned(path):
        raise UsageError(f"{what} {path} exists and was not written by bench (no {marker(path).name} beside it), "
                         f"so it is not replaced. {fix}")


def remove_owned(path: Path, what: str = "the tree") -> None:
    """Remove a tree bench created, and its marker; anything else at `path` is an error, never removed."""
    if path.exists() or path.is_symlink():
        check_replaceable(path, what, "Move it away and run again")
        shutil.rmtree(path)
    marker(path).unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def check_overwritable(path: Path, what: str, fix: str) -> None:
    """Refuse, before anything is written, to overwrite a file bench did not write there (or that was changed
    since): its marker beside it holds the sha256 of what bench wrote."""
    if not (path.exists() or path.is_symlink()):
        return
    mark = marker(path)
    try:
        ours = (path.is_file() and not path.is_symlink() and mark.is_file()
                and mark.stat().st_size < 200 and mark.read_text().strip() == _sha256(path))
    except OSError:
        ours = False
    if not ours:
        raise UsageError(f"{what} {path} exists and was not written by bench (or was changed since), so it is not "
                         f"overwritten. {fix}")


def own_file(path: Path) -> None:
    """Mark a file bench just wrote as its own, so a later run may overwrite it (and only it)."""
    marker(path).write_text(_sha256(path) + "\n")
