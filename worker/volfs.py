"""File operations on the volume, and the volume's clock, behind one small class.

Standard library only. The venv store and the build lock do every file operation that matters to
their protocol through a `VolumeFs`, for two reasons: ages (heartbeats, leases) are measured by the
VOLUME's clock (the mtime of a file just written there), so clock skew between containers does not
matter; and the protocol's model test (tests/container/test_venv_protocol.py) swaps in a subclass
with a simulated clock and injected faults (unreadable files, a full disk) while every operation
stays a real one on a real folder.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import socket
from pathlib import Path


def is_enospc(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def unique_name(prefix: str) -> str:
    """A name no other container or process picks: host + pid + random (pid is 1 in every
    container, and a host name can repeat across restarts)."""
    return f"{prefix}-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


class VolumeFs:
    """Real file operations; `now()` is the volume's clock."""

    def __init__(self, clock_dir: Path) -> None:
        self.clock_dir = clock_dir

    # ---- time
    def now(self) -> float:
        """The volume's time: the mtime of a file just written there (raises OSError)."""
        stamp = self.clock_dir / unique_name(".clock")
        try:
            stamp.write_bytes(b"")
            return stamp.stat().st_mtime
        finally:
            with contextlib.suppress(OSError):
                stamp.unlink()

    def touch(self, path: Path) -> None:
        """Set path's mtime to the volume's now (raises OSError)."""
        os.utime(path)

    def mtime(self, path: Path) -> float:
        return path.stat().st_mtime

    # ---- reads
    def read_text(self, path: Path) -> str:
        return path.read_text()

    def listdir(self, path: Path) -> list[str]:
        return sorted(os.listdir(path))

    def size(self, path: Path) -> int:
        """A file's size in bytes (raises FileNotFoundError when it is gone)."""
        return path.stat().st_size

    def exists(self, path: Path) -> bool:
        return os.path.lexists(path)

    def is_dir(self, path: Path) -> bool:
        return path.is_dir()

    # ---- writes
    def mkdir(self, path: Path) -> None:
        """Make one directory; FileExistsError when it is there (atomic, also on NFS)."""
        os.mkdir(path)

    def write_text(self, path: Path, text: str) -> None:
        """Write whole (temp file in the same folder, fsync, rename) and stamp the mtime."""
        tmp = path.with_name(unique_name(f".{path.name}"))
        try:
            with open(tmp, "w") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.rename(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        self.touch(path)

    def rename(self, src: Path, dst: Path) -> None:
        """os.rename: atomic; onto a non-empty directory it fails (ENOTEMPTY/EEXIST)."""
        os.rename(src, dst)

    def unlink(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def rmtree(self, path: Path) -> None:
        """Remove a tree that already has a name nobody trusts (see `discard`)."""
        shutil.rmtree(path, ignore_errors=True)

    def fsync_dir(self, path: Path) -> None:
        with contextlib.suppress(OSError):
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def discard(self, path: Path) -> bool:
        """Remove a directory: rename it to a trash name first, so a half-removed tree never keeps
        a name anyone trusts. False when it was not there (or someone else moved it first)."""
        trash = path.with_name(f".trash-{path.name}-{secrets.token_hex(4)}")
        try:
            self.rename(path, trash)
        except FileNotFoundError:
            return False
        except OSError:
            return False
        self.rmtree(trash)
        return True
