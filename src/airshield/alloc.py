"""Keep freed memory in the process instead of returning it to the OS.

The tracker's hot path allocates and frees numpy arrays of a few hundred kB to a
few MB many times per update. glibc serves blocks over its mmap threshold (128 kB
to start) with fresh mappings and trims the heap top when it is freed, so each
such array costs page faults on first touch; on a 1,000-track update that was
about a fifth of the CPU time (benchmarks/bench_track.py, docs/PERFORMANCE.md).
Raising the mmap and trim thresholds keeps the pages mapped and reused. It is a
process-wide setting, so only entry points call it (the CLI, the benchmarks),
never a library import. A no-op where glibc's ``mallopt`` is not available.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
_done = False


def keep_freed_memory(mmap_threshold: int = 32 << 20, trim_threshold: int = 512 << 20,
                      top_pad: int = 64 << 20) -> bool:
    """Tune glibc malloc for many short-lived large arrays. Returns True when applied."""
    global _done
    if _done:
        return True
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    ok = all(mallopt(p, v) == 1 for p, v in ((M_MMAP_THRESHOLD, mmap_threshold),
                                              (M_TRIM_THRESHOLD, trim_threshold),
                                              (M_TOP_PAD, top_pad)))
    _done = ok
    return ok
