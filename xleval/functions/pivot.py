"""GETPIVOTDATA's lookup: which pivot table a reference points into, and which cell of it
holds the value for a data field and field/item pairs.

Excel does not recalculate pivot tables on a recalculation either: GETPIVOTDATA returns
what the report shows, and the report's cells are plain constants in the sheet. So the
answer is a cell position (read by the caller from the engine), found from the layout the
loader read (loader/pivot.py, loader.model.PivotTable):

  * the pairs split into row fields, column fields and report filters; a filter must
    have the requested item selected (alone), any other field is not visible: #REF!;
  * on each axis, the line whose items are exactly the pairs for that axis' fields (no
    pair for an axis: its grand total line, or its only line when it has no fields); a
    subtotal line or an outline label line carrying the subtotal counts as well, a label
    line without values does not; on the axis holding the data fields, also the line of
    the requested data field;
  * items match case-insensitively by value or by custom caption; a number (or date
    serial) matches a number item equal to it, or a text item reading as that number;
    text reading as a number matches a number item; "(blank)" matches the blank item.
"""
from __future__ import annotations

from .. import values as V
from ..loader.model import PivotItem, PivotTable
from ..values import XLError

DATA_FIELD = -2
_NO_VALUES = ("blank", "header")


def pivot_at(pivots: list[PivotTable], sheet: str, r1: int, c1: int, r2: int,
             c2: int) -> PivotTable | None:
    """The pivot table whose report (body or filter area) meets the rectangle; of several,
    the last one read (Excel: the most recently created)."""
    low = sheet.lower()
    hit = None
    for p in pivots:
        if p.sheet.lower() != low:
            continue
        pr1, pc1, pr2, pc2 = p.ref
        pr1 -= p.page_rows
        if r1 <= pr2 and pr1 <= r2 and c1 <= pc2 and pc1 <= c2:
            hit = p
    return hit


def _same(want, value, caption: str | None) -> bool:
    """Does the requested item `want` name the item `value` (custom caption `caption`)?"""
    if isinstance(want, str):
        w = want.casefold()
        if caption is not None and caption.casefold() == w:
            return True
        if isinstance(value, str):
            return value.casefold() == w
        if value is None:
            return w == "(blank)"
        if isinstance(value, bool):
            return w == ("true" if value else "false")
        if isinstance(value, float):
            n = V.text_to_number(want)
            return n is not None and V.round15(n) == V.round15(value)
        if isinstance(value, XLError):
            return value.code.casefold() == w
        return False
    if isinstance(want, bool):
        return isinstance(value, bool) and value == want
    if isinstance(want, (int, float)):
        if isinstance(value, float) and not isinstance(value, bool):
            return V.round15(float(want)) == V.round15(value)
        if isinstance(value, str):
            n = V.text_to_number(value)
            return n is not None and V.round15(n) == V.round15(float(want))
        return False
    if want is None:
        return value is None
    return False


def _norm(v):
    """A label or requested item as an index key: what plainly equal items share."""
    if isinstance(v, str):
        return ("t", v.casefold())
    if isinstance(v, bool):
        return ("b", v)
    if isinstance(v, (int, float)):
        return ("n", V.round15(float(v)))
    if isinstance(v, XLError):
        return ("e", v.code)
    return ("z", None) if v is None else ("?", repr(v))


def _axis_index(items: list[PivotItem], with_data: bool) -> dict:
    """{(data field or None, frozenset of (field, key)): first line}: a report's lines found
    by a dictionary look-up (a sheet of GETPIVOTDATA formulas would otherwise scan every
    line per formula)."""
    out: dict = {}
    for k, it in enumerate(items):
        if it.kind not in _NO_VALUES:
            key = frozenset((f, _norm(v)) for f, v, _cap in it.labels)
            out.setdefault((it.data if with_data else None, key), k)
    return out


def _indexes(p: PivotTable) -> tuple[dict, dict]:
    """The row and column line indexes of `p`, built on first use and kept on it (the
    layout never changes once loaded)."""
    got = p.__dict__.get("_line_index")
    if got is None:
        got = (_axis_index(p.row_items, DATA_FIELD in p.row_fields),
               _axis_index(p.col_items, DATA_FIELD in p.col_fields))
        p.__dict__["_line_index"] = got
    return got


def _line(items: list[PivotItem], want: dict[int, object], data: int | None,
          index: dict | None = None) -> int | None:
    """Index of the line of one axis showing exactly the items `want` ({field: item}) and,
    when `data` is given (the axis holds the data fields), that data field. `index`
    (from _axis_index) answers plain matches; the scan handles captions and items named
    in another type (text for a number...)."""
    if index is not None:
        hit = index.get((data, frozenset((f, _norm(v)) for f, v in want.items())))
        if hit is not None:
            return hit
    for k, it in enumerate(items):
        if it.kind in _NO_VALUES or len(it.labels) != len(want):
            continue
        if data is not None and it.data != data:
            continue
        if all(f in want and _same(want[f], v, cap) for f, v, cap in it.labels):
            return k
    return None


def _field_index(p: PivotTable, name: str) -> int | None:
    low = name.casefold()
    for i, f in enumerate(p.fields):
        if f.casefold() == low:
            return i
    return None


def locate(p: PivotTable, data_field: str, pairs: list[tuple[object, object]]
           ) -> tuple[int, int] | XLError:
    """The (row, col) of the cell of pivot table `p` holding data field `data_field` (its
    name as shown or its source field's name) for the field/item `pairs`; #REF! when that
    value is not shown."""
    low = data_field.casefold()
    d = next((i for i, df in enumerate(p.data_fields) if df.name.casefold() == low), None)
    if d is None:
        d = next((i for i, df in enumerate(p.data_fields)
                  if df.field < len(p.fields) and p.fields[df.field].casefold() == low), None)
    if d is None:
        return V.REF
    rows: dict[int, object] = {}
    cols: dict[int, object] = {}
    pages = dict(p.page_fields)
    for name, item in pairs:
        fi = _field_index(p, V.to_text(name) if not isinstance(name, str) else name)
        if fi is None:
            return V.REF
        if fi in p.row_fields:
            target = rows
        elif fi in p.col_fields:
            target = cols
        elif fi in pages:
            sel = pages[fi]
            if sel is None or not _same(item, sel[0], sel[1]):
                return V.REF
            continue
        else:
            return V.REF
        if fi in target:
            return V.REF
        target[fi] = item
    on_rows = DATA_FIELD in p.row_fields
    on_cols = DATA_FIELD in p.col_fields
    if not on_rows and not on_cols and d != 0:
        return V.REF
    row_index, col_index = _indexes(p)
    k = _line(p.row_items, rows, d if on_rows else None, row_index)
    j = _line(p.col_items, cols, d if on_cols else None, col_index)
    if k is None or j is None:
        return V.REF
    r1, c1, r2, c2 = p.ref
    r, c = r1 + p.first_data_row + k, c1 + p.first_data_col + j
    if not (r1 <= r <= r2 and c1 <= c <= c2):
        return V.REF
    return r, c
