"""When a stage may fork helper processes of its own (the loader's and the writer's
pieces of large sheets): they inherit the parent's data instead of having it pickled."""
from __future__ import annotations

import gc
import os
import sys

# Worker processes one stage (loading, evaluating, writing, a batch, the service) starts
# at most, whatever is asked: each is a fork of a process that may hold a large workbook,
# and --workers 100000 forked until the machine gave out.
MAX_WORKERS = 256


def workers_ok(workers) -> bool:
    """`workers` is a count of worker processes one may start: a whole number from 1 to
    MAX_WORKERS (not a bool)."""
    return (isinstance(workers, int) and not isinstance(workers, bool)
            and 1 <= workers <= MAX_WORKERS)


def can_fork() -> bool:
    """Worker processes can be forked here: Linux, fork as the start method (unset or
    'fork'; XLEVAL_START_METHOD, when set, too) and not a daemonic process."""
    if not sys.platform.startswith("linux"):
        return False
    import multiprocessing              # (here: ~6 ms of start-up when no stage forks)
    if multiprocessing.get_start_method(allow_none=True) not in (None, "fork"):
        return False
    env = os.environ.get("XLEVAL_START_METHOD", "").strip().lower()
    if env and env != "fork":
        return False
    return not multiprocessing.current_process().daemon


def start_helper() -> None:
    """First thing in a forked helper process: it dies with its parent, leaves Ctrl-C to
    the parent (which cleans up), and keeps the collector off the inherited pages."""
    from .scheduler.worker import _die_with_parent, _quiet_signals
    _die_with_parent()
    _quiet_signals()
    gc.freeze()
