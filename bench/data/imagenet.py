"""ImageNet validation sets: val_map.txt parsing, preprocessing into an on-disk cache, and the Dataset over it.

The preprocessed samples live in one .npy file per (file list, profile, size) under the bench cache.
It is written row by row and read row by row (pread), so memory does not grow with the dataset: the
QSL (bench.run.qsl) brings into RAM only the samples LoadGen asks for. A second run over the same files
decodes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from bench.cache import atomic_write, cache_dir, npy_damage
from bench.data.dataset import Dataset
from bench.data.preprocessing import ImageRefused, get_profile, integer_pixels, integer_pixels_of, preprocess
from bench.errors import UsageError

NUM_CLASSES = 1000
CACHE_VERSION = 1
# Images decoded per step: bounds the memory the decoder threads hold at once.
CHUNK = 32


def read_val_map(path: str | Path, num_classes: int = NUM_CLASSES) -> list[tuple[str, int]]:
    """`<relative path> <label>` lines (MLPerf's val_map.txt) -> [(path, label)]; errors name file:line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM (Windows editors) is not part of the first path
    except FileNotFoundError:
        raise UsageError(f"val_map {path} does not exist: put val_map.txt (lines '<image path> <label>') in the "
                         "dataset directory, or give --val-map FILE")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read val_map {path}: {exc}. It must be a UTF-8 text file of "
                         "'<image path> <label>' lines")
    entries: list[tuple[str, int]] = []
    seen: dict[str, tuple[int, int]] = {}  # image -> (label, line): one image under two labels is refused
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.strip().rsplit(None, 1)  # the path may hold spaces; the label is the last field
        if len(parts) != 2:
            raise UsageError(f"{path}:{lineno}: expected '<image path> <label>', got {line.strip()[:80]!r}")
        name, label_text = parts
        if "\0" in name:  # no file system allows it; open() would raise ValueError, not a clear error
            raise UsageError(f"{path}:{lineno}: the image path holds a NUL byte: is {path} a text file?")
        # ASCII digits only: int() would also take '1_0' or Arabic-Indic digits and quietly read another label.
        if re.fullmatch(r"-?[0-9]{1,18}", label_text) is None:
            raise UsageError(f"{path}:{lineno}: label {label_text[:40]!r} is not an integer "
                             f"(expected '<image path> <label>')")
        label = int(label_text)
        if not 0 <= label < num_classes:
            raise UsageError(f"{path}:{lineno}: label {label} is outside 0..{num_classes - 1}")
        first = seen.setdefault(os.path.normpath(name), (label, lineno))
        if first[0] != label:
            raise UsageError(f"{path}:{lineno}: image {name[:80]!r} is labelled {label}, but line {first[1]} labels it "
                             f"{first[0]}: an image has one true class; fix the val_map")
        entries.append((name, label))
    if not entries:
        raise UsageError(f"val_map {path} lists no images: expected '<image path> <label>' lines")
    return entries


class ImageNetDataset(Dataset):
    """Preprocessed images of a val_map, read from the cache file one row at a time."""

    def __init__(self, *, root: Path, val_map: Path, entries: list[tuple[str, int]], rows: np.ndarray,
                 bad: list[dict], profile: str, size: int, cache_file: Path, cache_hit: bool, decoded: int):
        self.root, self.val_map, self.entries = root, val_map, entries
        self.rows = rows  # sample index -> row in the cache file (bad images have no sample)
        self.bad, self.profile, self.size = bad, profile, size
        self.forms = ("float32-nchw", "uint8-nhwc") if integer_pixels(profile) else ("float32-nchw",)  # exact ones
        self.cache_file, self.cache_hit, self.decoded = cache_file, cache_hit, decoded
        self._labels = np.array([entries[r][1] for r in rows], dtype=np.int64)
        self._row_bytes = 3 * size * size * 4
        self._fd = os.open(cache_file, os.O_RDONLY)
        self._offset = _data_offset(cache_file)

    @classmethod
    def open(cls, cfg, model) -> ImageNetDataset:
        """The dataset `cfg` names (--dataset/--val-map/--count/--skip-bad), preprocessed for `model`."""
        val_map = Path(cfg.val_map) if cfg.val_map else Path(cfg.dataset) / "val_map.txt"
        root = Path(cfg.dataset) if cfg.dataset != "synthetic" else val_map.parent
        entries, count = read_val_map(val_map), cfg.count
        if count is not None and count > len(entries):
            raise UsageError(f"--count {count} is larger than the dataset: {val_map} lists {len(entries)} images")
        # --count N is the first N usable images (as MLPerf's reference imagenet.py counts): with --skip-bad each
        # skipped image is replaced by the next line. Only then is the cache rebuilt, over the longer list.
        take = len(entries) if count is None else count
        while True:
            dataset = cls.prepare(root, val_map, entries[:take], model.preprocessing, model.input_size,
                                  skip_bad=getattr(cfg, "skip_bad", False))
            short = 0 if count is None else count - len(dataset)
            if not short or take == len(entries):
                break
            dataset.close()
            take = min(len(entries), take + short)
        if short:
            raise UsageError(f"--count {count}: {val_map} has only {len(dataset)} usable images "
                             f"({len(dataset.bad)} of its {len(entries)} lines are missing or undecodable)")
        return dataset

    @classmethod
    def prepare(cls, root: Path, val_map: Path, entries: list[tuple[str, int]], profile: str, size: int = 224,
                skip_bad: bool = False) -> ImageNetDataset:
        """Check every image exists, then preprocess into the cache unless it is already there."""
        get_profile(profile)
        paths, stats = [], []
        for lineno, (name, _) in enumerate(entries, 1):
            path = root / name
            try:
                st = path.stat()
            except OSError:
                if not skip_bad:
                    raise UsageError(f"image {path} ({val_map} line {lineno}) does not exist: fix the val_map or "
                                     "the dataset directory, or pass --skip-bad to skip missing and broken images")
                st = None  # recorded as bad by _build
            paths.append(path)
            stats.append(None if st is None else (str(path.resolve()), st.st_size, st.st_mtime_ns))
        key = _cache_key(stats, profile, size)
        data_file = cache_dir("datasets") / f"{key}.npy"
        meta_file = data_file.with_suffix(".json")
        meta = _read_meta(meta_file) if data_file.exists() else None
        shape = (len(paths), 3, size, size)
        if meta is not None and (damage := npy_damage(data_file, shape, meta.get("count") == len(paths))):
            from rich.console import Console

            Console(stderr=True).print(f"preprocessing cache {data_file} is damaged ({damage}): rebuilding it",
                                       style="yellow", highlight=False, markup=False, soft_wrap=True)
            meta = None
        hit = meta is not None
        decoded = 0
        if not hit:
            try:
                meta, decoded = _build(data_file, meta_file, paths, stats, val_map, profile, size, skip_bad)
            except OSError as exc:  # a full disk: _build left no temporary file
                raise UsageError(f"cannot write the preprocessing cache {data_file}: {exc.strerror or exc}. "
                                 "Free some space or point BENCH_CACHE elsewhere") from exc
        failed = {b["line"] for b in meta["bad"]}
        if failed and not skip_bad:  # the cache was built by a --skip-bad run; this run asked not to skip
            first = meta["bad"][0]
            raise UsageError(f"image {first['file']} ({val_map} line {first['line']}) cannot be used: "
                             f"{first['error']}. Fix or remove it, or pass --skip-bad")
        rows = np.array([i for i in range(len(entries)) if i + 1 not in failed], dtype=np.int64)
        if len(rows) == 0:
            raise UsageError(f"no usable images in {val_map}: all {len(entries)} are missing or undecodable")
        return cls(root=root, val_map=val_map, entries=entries, rows=rows, bad=meta["bad"], profile=profile,
                   size=size, cache_file=data_file, cache_hit=hit, decoded=decoded)

    def __len__(self) -> int:
        return len(self.rows)

    def sample(self, index: int) -> np.ndarray:
        """One preprocessed sample, read from disk by offset (no mapping stays resident)."""
        out = np.empty((3, self.size, self.size), dtype=np.float32)
        got = os.preadv(self._fd, [memoryview(out).cast("B")], self._offset + int(self.rows[index]) * self._row_bytes)
        if got != self._row_bytes:
            raise OSError(f"short read from the preprocessing cache {self.cache_file}: delete it and rerun")
        return out

    def sample_uint8(self, index: int) -> np.ndarray:
        """One sample as the HWC uint8 pixels it was normalised from (checked exact, bit for bit)."""
        return integer_pixels_of(self.sample(index), self.profile)

    def label(self, index: int) -> int:
        return int(self._labels[index])

    def labels(self) -> np.ndarray:
        return self._labels.copy()

    def array(self) -> np.ndarray:
        """All rows as a read-only memory map (bad images' rows are zeros): for bulk readers such as verify."""
        return np.load(self.cache_file, mmap_mode="r")[self.rows]

    def describe(self) -> dict:
        return {
            "kind": "imagenet", "root": str(self.root), "val_map": str(self.val_map),
            "lines": len(self.entries), "count": len(self),
            "skipped_bad": len(self.bad),
            "bad": self.bad[:20],
            "preprocessing": get_profile(self.profile).describe(),
            "input_size": self.size,
            "cache_file": str(self.cache_file),
            "cache_hit": self.cache_hit,
            "decoded": self.decoded,
            "synthetic": False,
        }

    def close(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)
            self._fd = None

    __del__ = close


def _cache_key(stats: list, profile: str, size: int) -> str:
    """Identifies the file list (path, size, mtime) and the preprocessing: anything else reuses the cache."""
    # The profile's whole description, not only its name: a profile that changes (EXIF orientation added to
    # mlperf) never reads images preprocessed the old way.
    described = get_profile(profile).describe()
    digest = hashlib.sha256(json.dumps([CACHE_VERSION, profile, size, stats, described]).encode())
    return f"{profile}-{size}-{len(stats)}-{digest.hexdigest()[:24]}"


def _read_meta(meta_file: Path) -> dict | None:
    try:
        meta = json.loads(meta_file.read_text())
        return meta if meta.get("version") == CACHE_VERSION else None
    except (OSError, ValueError):
        return None


def _data_offset(path: Path) -> int:
    mapped = np.load(path, mmap_mode="r")  # only to read the header: rows are read with pread
    offset = mapped.offset
    del mapped
    return offset


def _decode(path: Path, profile: str, size: int) -> np.ndarray | str:
    """The preprocessed image, or the reason it cannot be read (said in the error that names the file)."""
    try:
        if path.stat().st_size == 0:
            return "empty file (0 bytes)"
        return preprocess(path, profile, size)
    except ImageRefused as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for broken files
        return f"cannot decode it as an image ({type(exc).__name__}: {exc})"


def _build(data_file: Path, meta_file: Path, paths: list[Path], stats: list, val_map: Path, profile: str,
           size: int, skip_bad: bool) -> tuple[dict, int]:
    """Preprocess every image into data_file (written under a temporary name, renamed when complete)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    tmp = data_file.with_name(f".{data_file.name}.{os.getpid()}.tmp")
    header = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(paths), 3, size, size))
    offset = header.offset
    del header  # only the header was wanted; rows are written with plain file writes below
    row_bytes = 3 * size * size * 4
    bad: list[dict] = []
    first_row: dict[Path, int] = {}  # a path listed twice is decoded once
    decoded = 0
    columns = (TextColumn("preprocessing ({task.fields[profile]})"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    try:
        with open(tmp, "r+b") as out, ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool, \
                Progress(*columns, console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("preprocess", total=len(paths), profile=profile)
            for start in range(0, len(paths), CHUNK):
                todo = [i for i in range(start, min(start + CHUNK, len(paths)))
                        if stats[i] is not None and paths[i] not in first_row]
                results = dict(zip(todo, pool.map(lambda i: _decode(paths[i], profile, size), todo)))
                decoded += len(todo)
                for i in range(start, min(start + CHUNK, len(paths))):
                    if stats[i] is None:
                        bad.append({"file": str(paths[i]), "line": i + 1, "error": "missing"})
                        continue
                    if i in results:
                        result = results[i]
                        if isinstance(result, str):
                            if not skip_bad:
                                raise UsageError(f"image {paths[i]} ({val_map} line {i + 1}): {result}. Fix or "
                                                 "remove it, or pass --skip-bad to skip and count broken images")
                            bad.append({"file": str(paths[i]), "line": i + 1, "error": result})
                            first_row[paths[i]] = -1
                            continue
                        first_row[paths[i]] = i
                        data = result.tobytes()
                    else:  # a repeated path: copy its first row (or repeat its failure)
                        src = first_row[paths[i]]
                        if src < 0:
                            bad.append({"file": str(paths[i]), "line": i + 1, "error": "cannot decode (see above)"})
                            continue
                        out.flush()
                        data = os.pread(out.fileno(), row_bytes, offset + src * row_bytes)
                    out.seek(offset + i * row_bytes)
                    out.write(data)
                progress.update(task, completed=min(start + CHUNK, len(paths)))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, data_file)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    meta = {"version": CACHE_VERSION, "profile": profile, "size": size, "count": len(paths), "bad": bad}
    atomic_write(meta_file, json.dumps(meta, indent=1))
    return meta, decoded


__all__ = ["ImageNetDataset", "read_val_map", "NUM_CLASSES"]
