"""Tabular outputs of computed sheet values: pandas DataFrames, CSV and JSON files.

Cell values are the engine's scalars (float, str, bool, None for blank, XLError). In every
output errors become their code text ('#N/A'); non-finite numbers (which Excel cannot hold)
become '#NUM!'.
"""
from __future__ import annotations

import csv
import io
import json
import math
from typing import Iterable, Iterator

from ..refs import cell_name, col_to_num, num_to_col
from ..values import XLError
from .xlsx import atomic_output, encode_number

__all__ = ["to_frame", "write_csv", "write_json"]

Values = dict[tuple[int, int], object]


def _scalar(v):
    """A cell value as a plain Python value: float/str/bool/None, errors as their code."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, XLError):
        return v.code
    if isinstance(v, float):
        return v if math.isfinite(v) else "#NUM!"
    if isinstance(v, int):
        return float(v)
    kind = getattr(getattr(v, "dtype", None), "kind", None)
    if kind == "b":
        return bool(v)
    if kind in ("i", "u", "f"):
        f = float(v)
        return f if math.isfinite(f) else "#NUM!"
    raise TypeError(f"unsupported cell value type {type(v).__name__}")


def _extent(values: Values, max_row: int | None, max_col: int | None) -> tuple[int, int]:
    if max_row is None:
        max_row = max((r for r, _c in values), default=0)
    if max_col is None:
        max_col = max((c for _r, c in values), default=0)
    return max(0, int(max_row)), max(0, int(max_col))


def to_frame(values: Values, max_row: int | None = None, max_col: int | None = None):
    """A DataFrame of one sheet's values: index = Excel row numbers 1..max_row, columns = Excel
    letters A.. (max_row/max_col default to the largest position in `values`; cells beyond
    them are left out). Blanks are None, errors their code text, numbers float, booleans
    bool. A column whose every cell is a number is float64; every other column is object."""
    import numpy as np
    import pandas as pd

    nrows, ncols = _extent(values, max_row, max_col)
    grid: list[list] = [[None] * nrows for _ in range(ncols)]
    for (r, c), v in values.items():
        if 1 <= r <= nrows and 1 <= c <= ncols:
            grid[c - 1][r - 1] = _scalar(v)
    data = {}
    for ci, col in enumerate(grid):
        numeric = nrows > 0 and all(type(x) is float for x in col)
        arr = np.array(col, dtype=np.float64 if numeric else object)
        data[num_to_col(ci + 1)] = arr
    index = pd.RangeIndex(1, nrows + 1)
    if not data:
        return pd.DataFrame(index=index, columns=pd.Index([], dtype=object), dtype=object)
    return pd.DataFrame(data, index=index, copy=False)


def _frame_cells(frame) -> Iterator[tuple[tuple[int, int], object]]:
    """Cells of a DataFrame laid out like `to_frame`'s (NaN counts as blank)."""
    cols = [col_to_num(str(name)) for name in frame.columns]
    rows = [int(i) for i in frame.index]
    for ci, name in zip(cols, frame.columns):
        series = frame[name].tolist()
        for ri, v in zip(rows, series):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            yield (ri, ci), v


def _as_values(obj) -> Values:
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, "columns") and hasattr(obj, "index"):
        return dict(_frame_cells(obj))
    raise TypeError(f"expected a {{(row, col): value}} dict or a DataFrame, not {type(obj).__name__}")


def _csv_text(v) -> str:
    v = _scalar(v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return encode_number(v) or "#NUM!"
    return v


def write_csv(values, path: str, *, max_row: int | None = None, max_col: int | None = None,
              encoding: str = "utf-8") -> None:
    """Write one sheet (a {(row, col): value} dict or a `to_frame` DataFrame) as CSV: the grid
    A1..(max_row, max_col), no header or index column; numbers in shortest round-trip form,
    booleans TRUE/FALSE, errors as their code, blanks empty. Atomic (temp file + rename)."""
    with atomic_output(path) as fh:
        cells = _as_values(values)
        nrows, ncols = _extent(cells, max_row, max_col)
        grid = [[""] * ncols for _ in range(nrows)]
        for (r, c), v in cells.items():
            if 1 <= r <= nrows and 1 <= c <= ncols:
                grid[r - 1][c - 1] = _csv_text(v)
        text = io.TextIOWrapper(fh, encoding=encoding, newline="")
        try:
            csv.writer(text).writerows(grid)
            text.flush()
        finally:
            text.detach()


def _json_value(v):
    return _scalar(v)


def _sorted_cells(cells: Values) -> Iterable[tuple[tuple[int, int], object]]:
    return sorted(cells.items(), key=lambda kv: kv[0])


def write_json(sheets: dict, path: str, *, indent: int | None = None) -> None:
    """Write all sheets as JSON: {"sheets": {name: {"A1": value, ...}}} with cells in row-major
    order; numbers as JSON numbers, booleans true/false, errors as their code ("#N/A"),
    blank results as null. Each sheet is a {(row, col): value} dict or a DataFrame.
    Atomic (temp file + rename)."""
    with atomic_output(path) as fh:
        doc: dict = {"sheets": {}}
        for name, obj in sheets.items():
            cells = _as_values(obj)
            doc["sheets"][str(name)] = {cell_name(r, c): _json_value(v)
                                        for (r, c), v in _sorted_cells(cells)}
        payload = json.dumps(doc, ensure_ascii=False, allow_nan=False, indent=indent)
        fh.write(payload.encode("utf-8"))
