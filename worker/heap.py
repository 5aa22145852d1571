"""Give the heap's free pages back to the system after each job (glibc `malloc_trim(0)`).

Requests of different lengths allocate tensors of different sizes; glibc keeps what a request
freed in its arenas, where it fragments, so resident memory climbs with the mix even though
the memory in use does not (measured with mallinfo2 in docs/worker.md#soak: a quarter to a half
of the arenas' bytes were free). `malloc_trim(0)` returns every free page of every arena to the
system (madvise), which costs a few milliseconds after a job and nothing during one. Where the
C library is not glibc (musl, macOS) this does nothing. Standard library only.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_TRIM = _malloc_trim()


def release() -> bool:
    """Return free heap pages to the system; True when glibc released some."""
    return bool(_TRIM(0)) if _TRIM is not None else False
