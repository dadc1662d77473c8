"""numpy helpers shared by the stages, and giving the heap back after their temporaries."""
from __future__ import annotations

import sys

import numpy as np


def group_ids(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What np.unique(x, return_index=True, return_inverse=True) gives but the values: per
    distinct value, in value order, the index of its first occurrence; per element, the
    number of its value in that order. Without np.unique, whose first call imports
    numpy.ma (~15 ms of start-up, paid by every CLI run that reaches it)."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    new = np.empty(len(x), bool)
    new[:1] = True
    np.not_equal(xs[1:], xs[:-1], out=new[1:])
    inverse = np.empty(len(x), np.int64)
    inverse[order] = np.cumsum(new) - 1
    return order[new], inverse


def release_freed_memory() -> None:
    """Give the heap's free pages back to the system (glibc's malloc_trim), after a stage's
    numpy temporaries are freed (the graph build, the number tables). The graph build's
    numpy temporaries come from the heap once glibc has raised its threshold for mapping a
    block on its own (each free of such a block raises it to that size), and freed there
    they stayed in the process for the rest of its life: ~6 MB per 40,000 formulas, which
    the evaluation's own objects (Python's allocator maps its arenas apart) cannot reuse.
    One call, no lasting change to the allocator (fixing the threshold instead cost ~10%
    more CPU time in the evaluation's numpy work)."""
    global _TRIM
    if _TRIM is None:
        _TRIM = False
        if sys.platform.startswith("linux"):
            try:
                import ctypes                 # (numpy imports it anyway)
                _TRIM = ctypes.CDLL(None).malloc_trim
            except (ImportError, OSError, AttributeError):
                pass                          # not glibc: nothing to call
    if _TRIM:
        _TRIM(0)


_TRIM = None      # glibc's malloc_trim once looked up, False where there is none
