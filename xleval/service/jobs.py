"""The CPU work of `xleval serve`, run inside worker processes (never on the event loop).

Every job returns plain picklable data, or raises `JobError(status, message)` whose message
is the same one line the CLI prints for that failure (see `xleval.cli.error_message`). The
xleval exceptions themselves are not sent back: their constructors take two arguments and
do not survive pickling.

Models are cached per worker process by id (`_MODELS`), so a model's bytes cross the pipe
once per worker, not once per request; the server re-sends them when a worker answers
`MISSING` (evicted here, or a fresh worker after a restart).
"""
from __future__ import annotations

import json
import math
import os
from collections import OrderedDict

from ..errors import ReferenceError_, WorkbookError, WorkbookTooLargeError, XlevalError

MISSING = "__model_missing__"
_MODELS: OrderedDict[str, object] = OrderedDict()
MODEL_CACHE_SIZE = 16


class JobError(Exception):
    """A failure to report to the HTTP client: status code and one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(status, message)
        self.status = status
        self.message = message


def warm() -> int:
    """Import the engine and answer this worker's pid (run once when a worker starts)."""
    import xleval  # noqa: F401 - the import is the point: the first request pays nothing
    import xleval.workbook  # noqa: F401
    return os.getpid()


def _status_for(exc: BaseException) -> int:
    if isinstance(exc, WorkbookTooLargeError):
        return 413
    if isinstance(exc, WorkbookError):
        return 422
    if isinstance(exc, (ReferenceError_, XlevalError)):
        return 400
    if isinstance(exc, MemoryError):
        return 507
    return 500


def _fail(exc: BaseException, display: str | None = None, path: str | None = None) -> JobError:
    """The JobError for an exception, naming the upload by its client-side file name."""
    from ..cli import error_message
    if isinstance(exc, WorkbookError) and display is not None:
        exc = type(exc)(display, exc.reason)
    _code, msg = error_message(exc)
    if path and display:
        msg = msg.replace(path, display)
    return JobError(_status_for(exc), msg)


def to_json(v):
    """An engine value as JSON: float/str/bool/None, errors as their code text, non-finite
    numbers as '#NUM!' (Excel cannot hold them), ranges as lists of row lists."""
    from ..values import XLError
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, XLError):
        return v.code
    if isinstance(v, (int, float)):
        f = float(v)
        return f if math.isfinite(f) else "#NUM!"
    kind = getattr(getattr(v, "dtype", None), "kind", None)    # numpy scalars
    if kind == "b":
        return bool(v)
    if kind in ("i", "u", "f"):
        return to_json(float(v))
    return str(v)


def from_json(v):
    """A JSON input value as an engine value: numbers as float, '#N/A'-style text as the
    error value, lists of rows element by element."""
    from ..values import ERRORS
    if isinstance(v, list):
        return [from_json(x) for x in v]
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, float)):
        try:
            return float(v)
        except OverflowError:
            raise XlevalError(f"input number {str(v)[:20]}... is too large (Excel's numbers "
                              "are 64-bit floats)") from None
    if isinstance(v, str):
        return ERRORS.get(v, v)
    raise XlevalError(f"unsupported input value {v!r} (use numbers, text, true/false, null "
                      "or lists of rows)")


def _load(path: str, display: str, max_cells: int, now: float | None,
          unknown: str = "name"):
    import xleval
    wb = xleval.load(path, now=now, unknown=unknown)
    n = sum(len(sd.values) + len(sd.formulas) for sd in wb.data.sheets)
    if n > max_cells:
        raise JobError(413, f"{display}: {n} cells, more than this server's limit of "
                            f"{max_cells}")
    return wb


def calculate(path: str, display: str, *, max_cells: int, fmt: str,
              cells: list[str] | None = None, now: float | None = None,
              out_path: str | None = None, unknown: str = "name") -> dict:
    """Load and recalculate the workbook at `path`. fmt 'json': {"values": {ref: value}}
    of the cells asked for (every formula cell when `cells` is None), as UTF-8 JSON bytes
    in {"json": ...}; fmt 'xlsx': the recalculated workbook written to `out_path`,
    {"path": out_path}. `unknown`: see xleval/evaluator/unknown.py (the upload's own
    cached values only, so safe to offer)."""
    try:
        wb = _load(path, display, max_cells, now, unknown)
        wb.calculate(strategy="serial")         # this process is already one of N workers
        if fmt == "xlsx":
            wb.save(out_path)
            return {"path": out_path, "formulas": wb.report.formulas}
        from ..refs import cell_name
        if cells:
            values = {ref: to_json(wb[ref]) for ref in cells}
        else:
            values = {}
            for sheet, vals in wb.formula_values().items():
                for (r, c), v in sorted(vals.items()):
                    values[f"{sheet}!{cell_name(r, c)}"] = to_json(v)
        # serialized here, not on the server's event loop: a million cells take a second
        return {"json": json.dumps({"values": values}, ensure_ascii=False,
                                   allow_nan=False, separators=(",", ":")).encode("utf-8")}
    except JobError:
        raise
    except Exception as e:  # noqa: BLE001 - every failure becomes a one-line HTTP error
        raise _fail(e, display, path) from None


def compile_model(path: str, display: str, *, max_cells: int, inputs: list[str],
                  outputs: list[str]) -> dict:
    """Compile a model (xleval.compile) from the workbook at `path`: its bytes and its
    JSON-safe description."""
    try:
        import xleval
        wb = _load(path, display, max_cells, None)  # the cell limit and one-line errors
        wb.calculate(strategy="serial")
        model = xleval.compile(wb, inputs=inputs, outputs=outputs)
        desc = model.describe()
        if isinstance(desc, dict) and isinstance(desc.get("source"), str):
            desc["source"] = desc["source"].replace(path, display)
        return {"bytes": model.to_bytes(), "describe": desc}
    except JobError:
        raise
    except Exception as e:  # noqa: BLE001
        raise _fail(e, display, path) from None


def evaluate_model(model_id: str, blob: bytes | None, scenarios: list[dict]) -> list[dict] | str:
    """Evaluate a cached model once per scenario ({input: value}); answers MISSING when this
    worker does not hold the model and no bytes were sent."""
    model = _MODELS.get(model_id)
    if model is None:
        if blob is None:
            return MISSING
        from ..model import Model
        model = Model.from_bytes(blob)
        _MODELS[model_id] = model
        while len(_MODELS) > MODEL_CACHE_SIZE:
            _MODELS.popitem(last=False)
    else:
        _MODELS.move_to_end(model_id)
    try:
        results = []
        for i, values in enumerate(scenarios):
            if not isinstance(values, dict):
                raise XlevalError(f"scenario {i}: expected an object of input values")
            out = model({k: from_json(v) for k, v in values.items()})
            results.append({k: to_json(v) for k, v in out.items()})
        return results
    except Exception as e:  # noqa: BLE001
        raise _fail(e) from None
