"""Shape keys of many distinct formulas, computed by forked worker processes.

Preparing a workbook reads every distinct formula text once (`parser.skeleton_key`: its
R1C1 form with the numbers taken out). Where every cell has its own text (hand-typed
constants) that is the largest serial stage of a recalculation, ~8 us per formula, and it
is plain per-text work: forked workers each take a slice of the texts and send back their
keys (plain tuples). It pays only for many texts: forking and moving the keys back cost
about 2 us per text plus the forks, so below PARALLEL_MIN texts, under spawn or forkserver
(a fresh interpreter per worker costs more than the work), and in a daemonic process (no
children allowed) skeleton_keys declines and Engine.prepare computes them itself.
"""
from __future__ import annotations

import multiprocessing as mp

from ..parser.parser import skeleton_key
from .worker import _die_with_parent, _quiet_signals

PARALLEL_MIN = 20_000         # distinct formula texts
_ITEMS: list = []             # (text, origin): set just before the fork, read by workers


def _init() -> None:
    # as the evaluation workers: Ctrl-C is the parent's to handle (it terminates the
    # pool), and a killed parent takes the workers with it
    _quiet_signals()
    _die_with_parent()


def _part(bounds: tuple[int, int]) -> list:
    i0, i1 = bounds
    return [skeleton_key(t, o) for t, o in _ITEMS[i0:i1]]


def skeleton_keys(items: list[tuple[str, tuple[int, int]]], workers: int) -> list | None:
    """`[skeleton_key(text, origin) for text, origin in items]` computed by `workers`
    forked processes; None when that would not pay (see the module docstring): the caller
    computes them itself."""
    global _ITEMS
    if workers < 2 or len(items) < PARALLEL_MIN or "fork" not in mp.get_all_start_methods() \
            or mp.current_process().daemon:
        return None
    n = len(items)
    parts = workers * 2                          # a little balance, few messages
    bounds = [(n * i // parts, n * (i + 1) // parts) for i in range(parts)]
    _ITEMS = items
    try:
        with mp.get_context("fork").Pool(workers, initializer=_init) as pool:
            out: list = []
            for got in pool.map(_part, bounds, chunksize=1):
                out += got
            return out
    except (OSError, AssertionError, ValueError):   # could not fork: the caller does it
        return None
    finally:
        _ITEMS = []
