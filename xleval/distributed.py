"""Scale-out on a Dask cluster (the optional `distributed` package: `pip install 'xleval[dask]'`).

Two entry points:

* `run_batch_dask(model, df, client)`: what `Model.run_batch(df, client=...)` calls. The
  model's bytes are scattered once to every worker, the frame is cut into contiguous row
  partitions, each worker rebuilds the model from the bytes (once per worker thread, cached
  here) and runs its partition serially; the parts come back in the original order, so the
  result is the one `model.run_batch(df, strategy="serial")` gives.
* `calc_many(args)`: `xleval calc --executor dask|local BOOK ... [-o OUTDIR]`, one workbook per
  task. Workers read each input by its path (a shared filesystem); when a worker cannot see a
  path that the client can, the client sends the file's bytes instead. Outputs come back to
  the client as bytes and are written there (temporary file + rename in OUTDIR), so OUTDIR
  need only exist where the command runs. A failing workbook gives one line on stderr and a
  non-zero exit status; the others still run.

Workers must run the same xleval version as the client (the tasks are functions of this
module, pickled by reference).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import tempfile
import threading
import time
import warnings
from collections import OrderedDict
from typing import Any, Iterator

from .errors import FileMissingError, XlevalError

# seconds to wait for a scheduler (or a LocalCluster) before giving up
CONNECT_TIMEOUT = 30.0        # seconds to reach a scheduler; XLEVAL_DASK_CONNECT_TIMEOUT


def connect_timeout() -> float:
    """XLEVAL_DASK_CONNECT_TIMEOUT when set (seconds > 0), else CONNECT_TIMEOUT."""
    text = os.environ.get("XLEVAL_DASK_CONNECT_TIMEOUT")
    if text is None:
        return CONNECT_TIMEOUT
    try:
        v = float(text)
    except ValueError:
        v = float("nan")
    if not 0 < v < 1e6:
        raise XlevalError(f"XLEVAL_DASK_CONNECT_TIMEOUT: expected seconds > 0, not {text!r}")
    return v


def _require_distributed():
    try:
        import distributed
    except ImportError:
        raise XlevalError("Dask scale-out needs the 'distributed' package: "
                          "pip install 'xleval[dask]'") from None
    from .values import keep_error_pickling
    keep_error_pickling()          # importing distributed replaced it (see values.py)
    return distributed


# ---------------------------------------------------------------------------------------------
# run_batch on a cluster

# Models rebuilt on this worker process, keyed by (hash of the model bytes, thread id): a
# model keeps its calculation state in its engine, so two worker threads must not share one.
_MODELS: "OrderedDict[tuple[str, int], Any]" = OrderedDict()
_MODELS_LOCK = threading.Lock()
_MODELS_MAX = 16


def _worker_model(key: str, blob: bytes):
    """The model for `key` on this worker thread, rebuilt from `blob` the first time."""
    slot = (key, threading.get_ident())
    with _MODELS_LOCK:
        model = _MODELS.get(slot)
        if model is not None:
            _MODELS.move_to_end(slot)
            return model
    import xleval
    model = xleval.Model.from_bytes(blob)
    with _MODELS_LOCK:
        _MODELS[slot] = model
        while len(_MODELS) > _MODELS_MAX:
            _MODELS.popitem(last=False)
    return model


def _run_partition(blob: bytes, key: str, part) -> tuple[list, list[tuple]]:
    """Worker task: one partition of the batch, serially (the worker is the parallelism).
    Returns (columns, plain rows), not the part's frame: pandas picks each column's dtype
    from the values it sees, so concatenated part frames could differ from one frame built
    over all rows (a column of floats and blanks is float64 in one part, object in another)."""
    frame = _worker_model(key, blob).run_batch(part, strategy="serial")
    cols = []
    for j in range(frame.shape[1]):
        col = frame.iloc[:, j]
        values = col.tolist()                   # Python scalars, not numpy ones
        if col.dtype.kind == "f":               # NaN here was a blank (None): Excel has no NaN
            values = [None if v != v else v for v in values]
        cols.append(values)
    return list(frame.columns), list(zip(*cols)) if cols else [()] * len(frame)


def default_partitions(client, rows: int) -> int:
    """Two partitions per worker thread (so a slow partition does not idle the others), never
    more than there are rows."""
    threads = sum(client.nthreads().values()) or 1
    return max(1, min(rows, 2 * threads))


def run_batch_dask(model, df, client, *, partitions: int | None = None):
    """Run `model.run_batch(df)` on the Dask cluster behind `client`; returns the same
    DataFrame as `model.run_batch(df, strategy="serial")` (same rows, order and index)."""
    _require_distributed()
    import pandas as pd
    if len(df) == 0:                     # nothing to distribute: the local call knows the columns
        return model.run_batch(df, strategy="serial")
    if partitions is not None and partitions < 1:
        raise XlevalError(f"partitions must be at least 1, not {partitions}")
    n = min(len(df), partitions or default_partitions(client, len(df)))
    blob = model.to_bytes()
    key = hashlib.sha256(blob).hexdigest()
    blob_future = client.scatter(blob, broadcast=True, hash=False)
    bounds = [len(df) * i // n for i in range(n + 1)]
    parts = [df.iloc[bounds[i]:bounds[i + 1]] for i in range(n)]
    part_futures = client.scatter(parts, hash=False)
    futures = [client.submit(_run_partition, blob_future, key, pf, pure=False)
               for pf in part_futures]
    results = client.gather(futures)
    rows = [row for _cols, part_rows in results for row in part_rows]
    return pd.DataFrame(rows, index=df.index, columns=results[0][0])   # as a serial run builds it


# ---------------------------------------------------------------------------------------------
# many-workbook calc

def _write_output(wb, target: str, fmt: str, sheet: str | None, in_place: bool) -> None:
    """Write the recalculated workbook `wb` to `target` as xlsx, csv or json (as `calc -o`)."""
    if fmt == "xlsx":
        wb.save(target, in_place=in_place)
    elif fmt == "csv":
        wb.to_csv(target, sheet)
    else:
        if sheet:
            from .writer.tabular import write_json
            write_json({sheet: wb.sheet_values(sheet)}, target)
        else:
            wb.to_json(target)


def calc_one(spec: dict) -> dict:
    """Recalculate one workbook as `spec` says (a plain dict, so it travels to a worker) and
    return a plain dict: ok, the summary text, the printed cells, the report data, and the
    output's bytes when spec["return_bytes"] (the client writes them). Never raises."""
    from . import cli
    import xleval
    name = spec.get("name", spec["path"])        # as the user typed it, for messages
    t0 = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="xleval-") as tmp:
            path = spec["path"]                  # absolute: the worker's cwd is not the client's
            if spec.get("data") is not None:     # sent by the client: not visible here
                path = os.path.join(tmp, os.path.basename(name))
                with open(path, "wb") as fh:
                    fh.write(spec["data"])
            try:
                wb = xleval.load(path, now=spec["now"], links=spec["links"],
                                 links_dir=spec["links_dir"], link_timeout=spec["link_timeout"],
                                 unknown=spec.get("unknown", "name"))
                wb.calculate(strategy=spec["strategy"], workers=spec["workers"])
                cells = []                       # first: a bad reference writes no output
                for ref in spec["cells"]:
                    v = wb[ref]
                    rows = v if isinstance(v, list) else [[v]]
                    cells.append((ref, [[cli._fmt_value(x) for x in row] for row in rows]))
                out, data = spec["output"], None
                wb.release_compiled()            # as the CLI: the write reuses that memory
                if out:
                    t1 = time.perf_counter()
                    if spec["return_bytes"]:
                        local = os.path.join(tmp, "out" + os.path.splitext(out)[1])
                        _write_output(wb, local, spec["format"], spec["sheet"], False)
                        with open(local, "rb") as fh:
                            data = fh.read()
                    else:
                        _write_output(wb, out, spec["format"], spec["sheet"], spec["in_place"])
                    wb.report.timings["write"] = time.perf_counter() - t1
            except XlevalError as e:
                msg = str(e).replace(path, name) if path != name else str(e)
                if not msg.startswith(f"{name}: "):      # e.g. a bad --cells reference
                    msg = f"{name}: {msg}"
                return {"ok": False, "path": name, "error": msg, "code": cli.EXIT_BAD_INPUT,
                        "missing": isinstance(e, FileMissingError) and spec.get("data") is None}
            rep = wb.report
            return {
                "ok": True, "path": name, "bytes": data,
                "summary": cli._summary(wb, name, spec["output"], time.perf_counter() - t0),
                "cells": cells,
                "report": rep.to_json(name),
            }
    except MemoryError:
        return {"ok": False, "path": name, "error": f"{name}: out of memory",
                "code": cli.EXIT_INTERNAL}
    except Exception as e:  # noqa: BLE001 - one line per workbook, the others keep going
        return {"ok": False, "path": name, "code": cli.EXIT_INTERNAL,
                "error": f"{name}: internal error: {type(e).__name__}: {e}"}


@contextlib.contextmanager
def quiet_dask() -> Iterator[None]:
    """Keep Dask's own log lines and warnings (connection chatter, shutdown notices, version
    notes) out of the CLI's output: the CLI reports each problem as one line itself."""
    logger = logging.getLogger("distributed")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"(distributed|dask|tornado)(\.|$)")
        try:
            yield
        finally:
            logger.setLevel(level)


@contextlib.contextmanager
def _workers_ignore_ctrl_c() -> Iterator[None]:
    """Ctrl-C goes to the whole foreground process group: the local cluster's processes
    each printed a traceback. They are started while SIGINT is ignored, which they inherit
    (a spawned process keeps an ignored signal), and leave it to this process, which closes
    the cluster. A Ctrl-C during that second of start-up is lost: press it again. (Blocking
    the signal instead, to take it afterwards, is not inherited by every start path.)
    Main thread only."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


@contextlib.contextmanager
def dask_client(scheduler: str | None, *, timeout: float | None = None) -> Iterator[Any]:
    """A `distributed.Client` for `scheduler` (e.g. tcp://host:8786); without one, a
    LocalCluster of one single-threaded worker process per CPU, closed on exit."""
    _require_distributed()
    from distributed import Client, LocalCluster
    timeout = connect_timeout() if timeout is None else timeout
    cluster = None
    try:
        if scheduler is None:
            with _workers_ignore_ctrl_c():
                cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1,
                                       processes=True, dashboard_address=None,
                                       silence_logs=logging.CRITICAL)
        client = Client(cluster if cluster is not None else scheduler, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as e:
        if cluster is not None:
            cluster.close()
        where = f"the Dask scheduler at {scheduler}" if scheduler else "a local Dask cluster"
        detail = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise XlevalError(f"cannot connect to {where}: {detail}") from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def calc_many(args) -> int:
    """`xleval calc` with several inputs or `--executor dask`: recalculate each workbook (on
    the cluster, or one after the other here), print each summary in input order, one line
    on stderr per failing workbook; exit status 0, or the worst failure's (2 bad input,
    3 internal)."""
    from . import cli
    from .cli import _parse_now
    if args.scheduler and args.executor != "dask":
        raise XlevalError("--scheduler needs --executor dask")
    # what every workbook would refuse alike: once, before anything runs
    from .links import check_settings
    check_settings(args.links_dir, args.link_timeout)
    t0 = time.perf_counter()
    outs = cli.output_paths(args)
    now = _parse_now(args.now)
    cells = [x.strip() for x in (args.cells or "").split(",") if x.strip()]
    if args.sheet:
        cells = [r if "!" in r else f"{args.sheet}!{r}" for r in cells]
    use_dask = args.executor == "dask"
    specs = [{"path": os.path.abspath(src), "name": src, "data": None, "output": out,
              "format": cli.output_format(out, args.format),
              "sheet": args.sheet, "cells": cells, "strategy": args.strategy,
              "workers": args.workers, "now": now, "links": args.links,
              "unknown": args.unknown,
              "links_dir": os.path.abspath(args.links_dir) if args.links_dir else None,
              "link_timeout": args.link_timeout,
              "in_place": args.in_place, "return_bytes": use_dask}
             for src, out in zip(args.input, outs)]
    if use_dask:
        with quiet_dask(), dask_client(args.scheduler) as client:
            results = _run_on_dask(client, specs, lambda r: _emit(args, r))
    else:
        results = []
        for spec in specs:
            results.append(calc_one(spec))
            _emit(args, results[-1])
    failed = [r for r in results if not r["ok"]]
    if len(specs) > 1 and not args.quiet:
        where = f"dask ({args.scheduler or 'local cluster'})" if use_dask else "local"
        print(f"workbooks  {len(specs)}: {len(specs) - len(failed)} recalculated, "
              f"{len(failed)} failed (executor {where}, {time.perf_counter() - t0:.3f}s)",
              file=sys.stderr if cells else sys.stdout)
    if args.report:
        _write_report(args, results)
    return max((r["code"] for r in failed), default=0)


def _run_on_dask(client, specs: list[dict], emit) -> list[dict]:
    """Submit every workbook, then take the results in input order (so output is
    deterministic); a workbook the worker could not find by path is sent as bytes once."""
    futures = [client.submit(calc_one, spec, pure=False) for spec in specs]
    results = []
    for spec, fut in zip(specs, futures):
        res = _result(fut, spec)
        if not res["ok"] and res.get("missing") and os.path.isfile(spec["path"]):
            with open(spec["path"], "rb") as fh:
                shipped = dict(spec, data=fh.read())
            res = _result(client.submit(calc_one, shipped, pure=False), spec)
        if res["ok"] and res.get("bytes") is not None:
            res = _save_bytes(res, spec)
        fut.release()
        emit(res)
        results.append(res)
    return results


def _result(fut, spec: dict) -> dict:
    """A task's result dict; a lost worker or a cancelled task becomes a failure line too."""
    from . import cli
    try:
        return fut.result()
    except Exception as e:  # noqa: BLE001 - KilledWorker, CommClosedError, CancelledError...
        detail = str(e).splitlines()[0] if str(e) else ""
        return {"ok": False, "path": spec["name"], "code": cli.EXIT_INTERNAL,
                "error": f"{spec['name']}: the Dask task failed: {type(e).__name__}"
                         + (f": {detail}" if detail else "")}


def _save_bytes(res: dict, spec: dict) -> dict:
    """Write an output that came back from a worker: temporary file next to it, then rename."""
    from . import cli
    from .writer.xlsx import atomic_output
    try:
        mode_from = spec["path"] if spec["format"] == "xlsx" else None   # as the writer does
        with atomic_output(spec["output"], mode_from=mode_from) as fh:
            fh.write(res["bytes"])
    except XlevalError as e:
        return {"ok": False, "path": spec["name"], "error": str(e), "code": cli.EXIT_BAD_INPUT}
    return dict(res, bytes=None)


def _emit(args, res: dict) -> None:
    from .cli import _err
    if not res["ok"]:
        _err(res["error"])
        return
    prefix = f"{res['path']}\t" if len(args.input) > 1 else ""
    for ref, rows in res["cells"]:
        for row in rows:
            print(f"{prefix}{ref}\t" + "\t".join(row))
    if not args.quiet:
        stream = sys.stderr if res["cells"] else sys.stdout
        print(res["summary"], file=stream)
        if len(args.input) > 1:
            print(file=stream)


def _write_report(args, results: list[dict]) -> None:
    from .writer.xlsx import atomic_output
    rows = [dict(r["report"], status="ok") if r["ok"] else
            {"workbook": r["path"], "status": "failed", "error": r["error"]} for r in results]
    data = rows[0] if len(rows) == 1 and results[0]["ok"] else {"workbooks": rows}
    with atomic_output(args.report) as fh:
        fh.write(json.dumps(data, indent=2).encode("utf-8"))
