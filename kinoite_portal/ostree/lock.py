"""File locks: libostree's own repo lock, and the portal's per-repo job lock.

Both are OFD (open file description) fcntl locks. libostree 2022.7 locks ``REPO/.lock`` with ``F_OFD_SETLK(W)``;
``flock(2)`` does not interact with it. The kernel drops an OFD lock when the last descriptor of the open file
closes, including when the holder is SIGKILLed, so a crashed job never leaves a lock behind (a Redis lock would
stay until its TTL ran out).
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import LockTimeout, RepoMissing

# Linux values; Python 3.11 exposes them on Linux, the fallbacks are for type checkers on other platforms.
F_OFD_GETLK: int = getattr(fcntl, "F_OFD_GETLK", 36)
F_OFD_SETLK: int = getattr(fcntl, "F_OFD_SETLK", 37)
F_OFD_SETLKW: int = getattr(fcntl, "F_OFD_SETLKW", 38)

# struct flock on 64-bit Linux: short l_type, short l_whence, (pad), off_t l_start, off_t l_len, pid_t l_pid, (pad).
# l_pid must be 0 for OFD locks. l_start=0 and l_len=0 cover the whole file, as libostree does.
_FLOCK_FORMAT = "hhqqi4x"
_RETRY_S = 0.05
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


def _flock(lock_type: int) -> bytes:
    return struct.pack(_FLOCK_FORMAT, lock_type, os.SEEK_SET, 0, 0, 0)


def _try_lock(fd: int, exclusive: bool) -> bool:
    try:
        fcntl.fcntl(fd, F_OFD_SETLK, _flock(fcntl.F_WRLCK if exclusive else fcntl.F_RDLCK))
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def lock_holder_type(path: str | os.PathLike[str]) -> str | None:
    """Return ``"shared"`` or ``"exclusive"`` if another open file holds a lock that blocks an exclusive one."""
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    try:
        result = fcntl.fcntl(fd, F_OFD_GETLK, _flock(fcntl.F_WRLCK))
    finally:
        os.close(fd)
    lock_type = struct.unpack(_FLOCK_FORMAT, result)[0]
    if lock_type == fcntl.F_UNLCK:
        return None
    return "exclusive" if lock_type == fcntl.F_WRLCK else "shared"


@contextmanager
def _ofd_lock(path: Path, *, exclusive: bool, timeout: float, what: str) -> Iterator[int]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while not _try_lock(fd, exclusive):
            if time.monotonic() >= deadline:
                kind = "exclusive" if exclusive else "shared"
                raise LockTimeout(f"could not take the {kind} {what} on {path} within {timeout:g} s")
            time.sleep(_RETRY_S)
        try:
            yield fd
        finally:
            fcntl.fcntl(fd, F_OFD_SETLK, _flock(fcntl.F_UNLCK))
    finally:
        os.close(fd)


@contextmanager
def repo_lock(repo_path: str | os.PathLike[str], *, exclusive: bool = False, timeout: float = 30) -> Iterator[None]:
    """Hold libostree's own lock on ``REPO/.lock`` (shared by default) for the duration of the block.

    Hold it shared across "pull-local by checksum" and "refs --create": prune takes it exclusively, and without
    it a prune in between deletes the pulled commit because no ref points at it yet.
    """
    path = Path(repo_path)
    if not (path / "config").is_file():
        raise RepoMissing(f"{str(path)!r} is not an ostree repo (no config file)")
    with _ofd_lock(path / ".lock", exclusive=exclusive, timeout=timeout, what="ostree repo lock"):
        yield


@contextmanager
def portal_lock(lock_dir: str | os.PathLike[str], name: str, *, timeout: float = 30) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_dir/<name>.lock`` so two portal jobs never write one repo at once."""
    if not _NAME_RE.fullmatch(name):
        raise ValueError(f"lock name {name!r} may only contain A-Z a-z 0-9 . _ - and may not start with '.' or '-'")
    directory = Path(lock_dir)
    directory.mkdir(parents=True, exist_ok=True)
    with _ofd_lock(directory / f"{name}.lock", exclusive=True, timeout=timeout, what="portal lock") as fd:
        # The pid is only a hint for a human looking at the file; the lock itself is what counts.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
