"""The malloc tuning the entry points apply (airshield.alloc)."""

import platform

import numpy as np

from airshield.alloc import keep_freed_memory


def test_keep_freed_memory_applies_on_glibc_and_is_idempotent():
    applied = keep_freed_memory()
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert applied
    assert keep_freed_memory() == applied
    # numpy still allocates and frees large arrays correctly afterwards
    a = np.ones((1000, 4, 6, 6))
    b = a @ a
    assert b.shape == a.shape and np.all(b == 6.0)
