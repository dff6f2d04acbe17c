"""A raw OSError (a read-only directory, a full disk, a file where a directory belongs, a name too long) as one
line that names the path and what to do about it, instead of Python's `[Errno 28] ...`."""

from __future__ import annotations

import errno

FIXES = {
    errno.ENOSPC: "the disk is full: free some space, or point BENCH_CACHE / --output elsewhere",
    errno.EDQUOT: "the disk quota is used up: free some space, or point BENCH_CACHE / --output elsewhere",
    errno.EROFS: "the file system is read-only: choose a writable place (--output, --out, BENCH_CACHE)",
    errno.EACCES: "permission denied: fix its permissions or choose another place",
    errno.EPERM: "operation not permitted: fix its permissions or choose another place",
    errno.ENOTDIR: "a part of this path is a file, not a directory: remove it or choose another path "
                   "(is BENCH_CACHE a file?)",
    errno.EEXIST: "a file is in the way: remove it or choose another path",
    errno.EISDIR: "this is a directory, not a file: give a file",
    errno.ENAMETOOLONG: "the name is too long for the file system: use a shorter name (--system-name, --output)",
    errno.ENOENT: "it does not exist: check the path",
    errno.EMFILE: "too many open files: raise `ulimit -n`",
}


def describe(exc: OSError, doing: str = "use") -> str:
    path = exc.filename if exc.filename is not None else "a file"
    if exc.filename2 is not None:
        path = f"{path} -> {exc.filename2}"
    fix = FIXES.get(exc.errno, "check the path, its permissions and free space")
    return f"cannot {doing} {path}: {exc.strerror or exc}; {fix}"
