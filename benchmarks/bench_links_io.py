"""Benchmarks for external links (update mode) and io-bound Python functions.

    python benchmarks/bench_links_io.py [--links 8] [--rows 20000] [--io-cells 20]
                                        [--io-wait 0.2] [--json OUT]

  io      N cells each calling an io=True function that sleeps `--io-wait` seconds, end to
          end (build, calculate); the calls overlap, so this is about one wait, not N.
  links   a main workbook linking `--links` workbooks of `--rows` running-total formulas
          each; `update` mode with one link process at a time (serial), all of them at
          once (concurrent) and the default (one process per CPU); the links are
          CPU-bound, so the speed-up is bounded by the CPU count.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "fixtures"))

import xleval  # noqa: E402
from xleval.links import apply_links  # noqa: E402

_WAIT = 0.2


@xleval.function("BENCH_SLEEP", io=True, timeout=30.0)
def bench_sleep(x):
    time.sleep(_WAIT)
    return x


def bench_io(cells: int, wait: float) -> dict:
    global _WAIT
    _WAIT = wait
    t0 = time.perf_counter()
    book = {"S": {**{f"A{i}": i for i in range(1, cells + 1)},
                  **{f"B{i}": f"=BENCH_SLEEP(A{i})" for i in range(1, cells + 1)}}}
    wb = xleval.Workbook.from_dict(book)
    wb.calculate()
    sec = time.perf_counter() - t0
    assert wb["S!B1"] == 1.0, wb["S!B1"]
    st = wb.engine.io_state
    return {"cells": cells, "wait": wait, "seconds": round(sec, 3),
            "sum_of_waits": round(cells * wait, 3), "max_concurrent": st.max_concurrent,
            "batches": st.batches, "passes": st.rounds, "where": st.where}


def bench_links(n: int, rows: int) -> dict:
    from make_links import build_many
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        main = build_many(tmp, n, rows)
        build = time.perf_counter() - t0
        out = {"links": n, "rows_per_link": rows, "build_seconds": round(build, 2),
               "cpus": os.cpu_count()}
        expect = sum(2.0 * k * rows for k in range(1, n + 1))
        for label, par in (("serial", 1), ("concurrent", n),
                           ("default", None)):      # at most one process per CPU
            wb = xleval.load(main)
            t0 = time.perf_counter()
            state = apply_links(wb, "update", max_parallel=par)
            wb.calculate()
            sec = time.perf_counter() - t0
            got = wb["Sheet1!B1"]
            assert got == expect, (got, expect)
            assert not wb.report.warnings, wb.report.warnings
            out[label] = {"seconds": round(sec, 3), "links_seconds": round(state.seconds, 3),
                          "max_parallel_processes": state.max_running}
        for label in ("concurrent", "default"):
            out[label]["speedup"] = round(out["serial"]["links_seconds"]
                                          / out[label]["links_seconds"], 2)
        return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--links", type=int, default=8)
    p.add_argument("--rows", type=int, default=20000)
    p.add_argument("--io-cells", type=int, default=20)
    p.add_argument("--io-wait", type=float, default=0.2)
    p.add_argument("--json")
    a = p.parse_args(argv)
    res = {"io": bench_io(a.io_cells, a.io_wait), "links": bench_links(a.links, a.rows)}
    print(json.dumps(res, indent=2))
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
