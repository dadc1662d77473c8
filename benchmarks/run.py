"""`make bench`: generate the benchmark workbooks, run `xleval bench` over each, time the
end-to-end `xleval calc`, and write benchmarks/RESULTS.md (+ charts in benchmarks/results/).

    python benchmarks/run.py [--scale 1.0] [--shapes wide,chain,...] [--workers 1,2]
                             [--repeat 3] [--out benchmarks/RESULTS.md] [--no-e2e]

Workbooks are cached in benchmarks/generated/ (git-ignored; delete to regenerate). Every
figure comes from this machine at the time of the run: the load average is recorded next
to them, because other processes running at the same time distort parallel timings.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import generate  # noqa: E402
from results_md import update_sections  # noqa: E402

# the sections of RESULTS.md this runner writes (a run may leave some out)
RUN_SECTIONS = ("Summary (whole workbook, evaluation stage)",
                "Target: 100,000 heterogeneous formulas in wide layers",
                "End-to-end (`xleval calc IN -o OUT.xlsx`)", "Notes",
                "Per workbook")

FIXED = ("pool", "process")
TARGET_SHAPE = "hetero"          # 100,000 heterogeneous formulas in wide layers


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _load() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
        return True
    except ImportError:
        return False


def bench_one(path: pathlib.Path, args, charts: pathlib.Path) -> dict:
    out = path.with_suffix(".bench.json")
    cmd = [sys.executable, "-m", "xleval", "bench", str(path), "--strategies",
           "serial,pool,process,auto", "--workers", args.workers, "--repeat", str(args.repeat),
           "--json", str(out)]
    png = None
    if _has_matplotlib():
        png = charts / f"{path.stem}.png"
        cmd += ["--plot", str(png)]
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"xleval bench {path.name} failed: {proc.stderr.strip()}")
    data = json.loads(out.read_text())
    data["table"] = proc.stdout
    data["chart"] = os.path.relpath(png, charts.parent) if png else None
    return data


def end_to_end(path: pathlib.Path, strategy: str, workers: int) -> tuple[float, dict]:
    """Wall time of `xleval calc IN -o OUT.xlsx` (load, compile, graph, evaluate, write),
    and the stage times from its summary line."""
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "out.xlsx"
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "xleval", "calc", str(path), "-o", str(out),
                               "--strategy", strategy, "--workers", str(workers)],
                              env=_env(), capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"xleval calc {path.name} failed: {proc.stderr.strip()}")
    timings = {}
    for line in proc.stdout.splitlines():
        if line.startswith("time "):
            words = line.split("(")[0].split()[1:]
            for k, v in zip(words[::2], words[1::2]):
                try:
                    timings[k] = float(v.rstrip("s"))
                except ValueError:
                    pass
    return wall, timings


def best_end_to_end(path: pathlib.Path, strategies, workers: int, repeat: int) -> dict:
    """strategy -> end_to_end() of its fastest run of `repeat`; the strategies take turns
    round by round, so a slow spell of the machine does not fall on one of them only."""
    best: dict = {}
    for _ in range(repeat):
        for s in strategies:
            got = end_to_end(path, s, workers)
            if s not in best or got[0] < best[s][0]:
                best[s] = got
    return best


def summarise(shape: str, data: dict) -> dict:
    whole = [r for r in data["results"] if r["sheet"] == "*"]
    serial = next(r["seconds"] for r in whole if r["strategy"] == "serial")
    fixed = [r for r in whole if r["strategy"] in FIXED]
    best = min(fixed, key=lambda r: r["seconds"]) if fixed else None
    autos = [r for r in whole if r["strategy"] == "auto"]
    auto = min(autos, key=lambda r: r["seconds"]) if autos else None
    best_overall = min([serial] + [r["seconds"] for r in fixed])
    return {"shape": shape, "cells": whole[0]["cells"], "serial": serial, "best": best,
            "auto": auto, "best_overall": best_overall,
            "pool2": next((r["seconds"] for r in whole
                           if r["strategy"] == "pool" and r["workers"] == 2), None)}


def chart_summary(rows: list[dict], out: pathlib.Path) -> str | None:
    if not _has_matplotlib():
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    shapes = [r["shape"] for r in rows]
    series = {"serial": [1.0] * len(rows),
              "best fixed": [r["serial"] / r["best"]["seconds"] if r["best"] else 0 for r in rows],
              "auto": [r["serial"] / r["auto"]["seconds"] if r["auto"] else 0 for r in rows]}
    fig, ax = plt.subplots(figsize=(8, 4.2))
    w = 0.8 / len(series)
    for i, (name, ys) in enumerate(series.items()):
        ax.bar([j + (i - 1) * w for j in range(len(rows))], ys, w, label=name)
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(shapes)
    ax.set_ylabel("speedup vs serial (evaluation stage)")
    ax.set_title("xleval: evaluation speedup by workbook shape")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return os.path.relpath(out, out.parent.parent)


NOTES = """## Notes

* Workers are forked from the main process and keep a consecutive block of rows in every
  layer. A pool worker takes several layers at once (its block of each, in order) and moves
  on without waiting for the other workers; a cell needing another worker's result is
  handed back to the main process. A batch that starts the workers prepares its layers'
  tasks before the fork (the workers inherit them and get each as an index); later layers
  join while the workers run, until more than 2% of its cells came back (see
  `PoolExecutor.run_batch`). Each worker has its next task in flight while it works.
  Evaluating inherited objects writes reference counts, and the first write to an
  inherited page copies it: a worker's first layer costs it more than the main process's
  time for the same cells. Formulas that differ only in their numbers are read from flat
  per-column tables built before the fork (`evaluator/numbers.py`, once per workbook,
  ~50 ms for 100,000 such cells), which cut those copies ~4x.
* End-to-end times include loading, parsing every distinct formula and building the
  graph, which run serially whatever the strategy, and writing the file (large sheets,
  100,000 formula cells in all, are patched and compressed in pieces by forked
  processes, see `writer/xlsx.py`); for `hetero` these
  stages are most of the run (see the stage times above). Formulas that
  differ from another only in their numbers share one compiled closure per family, which
  reads each cell's numbers. The evaluation-stage table comes from `xleval bench`: it times
  evaluation alone.
* Every strategy first runs the vector fast path (numpy over a copied-down column; a
  copied-down exact lookup in one pass over its keys; a copied-down SUMIFS once per
  distinct key) in the main process; only what it leaves is sampled, decided on and sent
  out. That is why the copied-down shapes (`wide`, `finance`, `lookup`) stay inline:
  little per-cell work is left.
* `auto` samples each large layer (short runs of consecutive cells, evaluated for real),
  predicts inline / pool / process times and starts the pool only when the predicted
  savings repay its start; layers predicted below a few milliseconds never leave the main
  process.
"""


def write_results(path: pathlib.Path, meta: dict, rows: list[dict], datas: dict, e2e: dict,
                  summary_chart: str | None) -> None:
    L = ["# Benchmark results", "",
         "Written by `make bench` (`benchmarks/run.py`); every figure below was measured on "
         "this machine in that run.", "",
         f"* date: {meta['date']}",
         f"* machine: `{meta['platform']}`, {meta['cpus']} CPUs, Python {meta['python']}, "
         f"start method {meta['start_method']}",
         f"* load average (1/5/15 min) at start: {meta['load_start']}; at end: {meta['load_end']}"
         " (other processes compete for the CPUs: parallel figures are only as good as the "
         "quiet the machine had)",
         f"* settings: workers {meta['workers']}, best of {meta['repeat']} runs, evaluation "
         "stage only unless marked end-to-end", ""]
    L += ["## Summary (whole workbook, evaluation stage)", "",
          "| shape | formulas | serial s | best fixed | auto | auto / serial | "
          "auto / best | checks |",
          "|---|---:|---:|---|---|---:|---:|---|"]
    for r in rows:
        b, a = r["best"], r["auto"]
        best_txt = f"{b['strategy']} x{b['workers']}: {b['seconds']:.3f}s" if b else "-"
        auto_txt = f"x{a['workers']}: {a['seconds']:.3f}s" if a else "-"
        vs_serial = a["seconds"] / r["serial"] if a else None
        vs_best = a["seconds"] / r["best_overall"] if a else None
        ok1 = vs_serial is not None and vs_serial <= 1.05
        ok2 = vs_best is not None and vs_best <= 1.10
        L.append(f"| {r['shape']} | {r['cells']:,} | {r['serial']:.3f} | {best_txt} | {auto_txt} | "
                 f"{vs_serial:.2f} | {vs_best:.2f} | "
                 f"{'ok' if ok1 else 'SLOWER THAN SERIAL +5%'}, "
                 f"{'ok' if ok2 else 'OFF BEST BY >10%'} |" if a else
                 f"| {r['shape']} | {r['cells']:,} | {r['serial']:.3f} | {best_txt} | - | - | - | - |")
    L += ["", "`auto / serial`, `auto / best`: auto's time divided by serial's, and by the "
          "fastest of serial, pool and process at any worker count (targets: <= 1.05 and "
          "<= 1.10).", ""]
    if summary_chart:
        L += [f"![speedup by shape]({summary_chart})", ""]
    t = next((r for r in rows if r["shape"] == TARGET_SHAPE), None)
    if t is not None:
        L += ["## Target: 100,000 heterogeneous formulas in wide layers", ""]
        if t["pool2"]:
            L.append(f"* evaluation stage: serial {t['serial']:.3f}s, pool x2 "
                     f"{t['pool2']:.3f}s: **{t['serial'] / t['pool2']:.2f}x** (target >= 1.7x)")
        if TARGET_SHAPE in e2e:
            es = e2e[TARGET_SHAPE]
            s_wall, s_t = es["serial"]
            p_wall, p_t = es["pool"]
            L.append(f"* end-to-end `xleval calc -o`: serial {s_wall:.2f}s, pool x2 {p_wall:.2f}s: "
                     f"**{s_wall / p_wall:.2f}x** (target >= 1.5x)")
            stages = ", ".join(f"{k} {v:.2f}s" for k, v in s_t.items())
            L.append(f"* serial stages: {stages}")
            pstages = ", ".join(f"{k} {v:.2f}s" for k, v in p_t.items())
            L.append(f"* pool x2 stages: {pstages}")
            serial_part = s_wall - s_t.get("evaluate", 0) - s_t.get("write", 0)
            rest = s_wall - s_t.get("evaluate", 0) - s_t.get("write", 0) / 2
            L.append(f"* what runs serially whatever the strategy (start-up, load, compile, "
                     f"graph) takes {serial_part:.2f}s of the serial run's {s_wall:.2f}s, and "
                     f"two workers at best halve the write: even infinitely fast evaluation "
                     f"gives at most {s_wall / max(1e-9, rest):.2f}x end-to-end")
        L.append("")
    if e2e:
        L += ["## End-to-end (`xleval calc IN -o OUT.xlsx`)", "",
              f"Best of {meta['repeat']} runs per strategy, the strategies taking turns.", "",
              "| shape | serial s | pool x2 s | auto x2 s | pool speedup | auto speedup |",
              "|---|---:|---:|---:|---:|---:|"]
        for shape, d in e2e.items():
            s, p, a = d["serial"][0], d["pool"][0], d["auto"][0]
            L.append(f"| {shape} | {s:.2f} | {p:.2f} | {a:.2f} | {s / p:.2f}x | {s / a:.2f}x |")
        L.append("")
    L += [NOTES]
    L += ["## Per workbook", "",
          "Per-sheet rows time that sheet's formulas with every other formula already computed "
          "(see `xleval/bench.py`); `dispatch` is the share of the time spent starting workers "
          "and moving data.", ""]
    for shape, data in datas.items():
        L += [f"### {shape}: `{pathlib.Path(data['workbook']).name}`", "", "```",
              data["table"].rstrip(), "```", ""]
        if data.get("chart"):
            L += [f"![{shape}]({data['chart']})", ""]
    # other runners (peers.py, load_service.py, ...) own the remaining sections: keep them
    update_sections(path, "\n".join(L) + "\n", owned=RUN_SECTIONS, preamble=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", type=float, default=1.0, help="multiply the default sizes")
    p.add_argument("--shapes", default=",".join(generate.SHAPES))
    p.add_argument("--workers", default="1,2")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", default=str(HERE / "RESULTS.md"))
    p.add_argument("--generated", default=str(HERE / "generated"))
    p.add_argument("--no-e2e", action="store_true", help="skip the end-to-end calc timings")
    args = p.parse_args(argv)
    gen = pathlib.Path(args.generated)
    gen.mkdir(parents=True, exist_ok=True)
    out = pathlib.Path(args.out)
    charts = out.parent / "results"
    charts.mkdir(parents=True, exist_ok=True)
    from xleval.scheduler.base import resolve_start_method
    meta = {"date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "platform": platform.platform(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "start_method": resolve_start_method(),
            "load_start": _load(), "workers": args.workers, "repeat": args.repeat}
    rows, datas, e2e = [], {}, {}
    for shape in [s.strip() for s in args.shapes.split(",") if s.strip()]:
        rows_n = max(1, int(generate.DEFAULT_ROWS[shape] * args.scale))
        book = gen / f"{shape}_{rows_n}.xlsx"
        if not book.exists():
            n = generate.generate(shape, rows_n, str(book))
            print(f"generated {book.name}: {n} formulas", flush=True)
        print(f"bench {book.name} ...", flush=True)
        data = bench_one(book, args, charts)
        datas[shape] = data
        rows.append(summarise(shape, data))
        print(data["table"], flush=True)
        if not args.no_e2e:
            e2e[shape] = best_end_to_end(book, ("serial", "pool", "auto"), 2, args.repeat)
            print("end-to-end: " + ", ".join(f"{k} {v[0]:.2f}s" for k, v in e2e[shape].items()),
                  flush=True)
    meta["load_end"] = _load()
    chart = chart_summary(rows, charts / "summary.png")
    write_results(out, meta, rows, datas, e2e, chart)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
