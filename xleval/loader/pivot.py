"""Pivot table reports of an .xlsx workbook, read for GETPIVOTDATA.

A worksheet's relationships list its pivot tables (xl/pivotTables/pivotTableN.xml); each
names its cache (its own relationship to xl/pivotCache/pivotCacheDefinitionN.xml, or the
workbook's <pivotCaches> entry for its cacheId), which holds the field names and the items
of each field (<sharedItems>, or <fieldGroup><groupItems> for a grouped field).

In the pivot table part:
  <location ref="B3:E9" firstDataRow= firstDataCol= rowPageCount=/>  the body, without the
      report filter area; the values start firstDataRow rows and firstDataCol columns into it
  <pivotFields><pivotField><items><item x= n= sd=/>...  per cache field, its items in the
      order shown: x indexes the cache's items, n is a custom caption, sd="0" collapsed
  <rowFields>/<colFields><field x=/>  cache field index per axis position, -2 for "Values"
  <rowItems>/<colItems><i t= r= i=><x v=/>...</i>  one per body row/column: t the line type
      (data, default/sum/count... subtotals, grand, blank), r how many leading positions
      repeat the previous line's, then one x per further position (v indexes the field's
      items, or the data fields at the -2 position; 1048832: nothing there), i the data field
  <dataFields><dataField name= fld= subtotal=/>  the values shown
  <pageFields><pageField fld= item=/>  report filters (item: the one item selected)

Nothing here may break a load: `read_pivot` raises on a part it cannot make sense of and
the loader then leaves that pivot table out (GETPIVOTDATA on it gives #REF!).
"""
from __future__ import annotations

from typing import Callable

from ..values import error as _xl_error
from .model import PivotDataField, PivotItem, PivotTable
from .xmltags import child as _kid, children as _kids, local as _local

DATA_FIELD = -2               # the "Values" pseudo-field on an axis
_NO_ITEM = 1048832            # x v: no item at this position
_MAX_LINES = 1_048_576        # more <i> lines than sheet rows: a broken part

# data field names Excel makes when <dataField> has no name: "<Function> of <field>"
_FUNCTION_NAMES = {"sum": "Sum", "count": "Count", "average": "Average", "max": "Max",
                   "min": "Min", "product": "Product", "countNums": "Count",
                   "stdDev": "StdDev", "stdDevp": "StdDevp", "var": "Var", "varp": "Varp"}
_SUBTOTAL_ATTRS = ("sumSubtotal", "countASubtotal", "avgSubtotal", "maxSubtotal",
                   "minSubtotal", "productSubtotal", "countSubtotal", "stdDevSubtotal",
                   "stdDevPSubtotal", "varSubtotal", "varPSubtotal")


def _int(v: str | None, default: int = 0) -> int:
    return default if v is None or v == "" else int(v)


def _on(v: str | None, default: bool) -> bool:
    return default if v is None else v.strip().lower() in ("1", "true")


def cache_fields(root, decode: Callable[[str], str],
                 to_serial: Callable[[str], float | None]) -> list[tuple[str, list]]:
    """(name, item values) per field of a pivotCacheDefinition root: text, float (numbers,
    dates as serials), bool, XLError, or None for the blank item (<m/>)."""
    out = []
    for cf in _kids(_kid(root, "cacheFields"), "cacheField"):
        group = _kid(_kid(cf, "fieldGroup"), "groupItems")
        src = group if group is not None else _kid(cf, "sharedItems")
        items = []
        for it in (src if src is not None else ()):
            tag = _local(it.tag)
            v = it.get("v")
            if tag == "s":
                items.append(decode(v or ""))
            elif tag == "n":
                items.append(float(v))
            elif tag == "b":
                items.append(_on(v, False))
            elif tag == "e":
                items.append(_xl_error(v or "#N/A"))
            elif tag == "d":
                items.append(to_serial(v or ""))
            elif tag == "m":
                items.append(None)
        out.append((decode(cf.get("name") or ""), items))
    return out


def read_pivot(root, sheet: str, cache: list[tuple[str, list]],
               decode: Callable[[str], str]) -> PivotTable | None:
    """The PivotTable of a pivotTableDefinition root, with `cache` from `cache_fields`;
    None when it has no location. Raises (ValueError, IndexError...) on malformed parts."""
    from ..refs import parse_range
    loc = _kid(root, "location")
    if loc is None or not loc.get("ref"):
        return None
    r1, c1, r2, c2 = parse_range(loc.get("ref").strip().replace("$", ""))
    names = [name for name, _items in cache]

    # pivot fields: per cache field index, its items as shown and its layout flags
    pfields = _kids(_kid(root, "pivotFields"), "pivotField")
    items_of: list[list] = []
    for fi, pf in enumerate(pfields):
        values = cache[fi][1] if fi < len(cache) else []
        lst = []
        for it in _kids(_kid(pf, "items"), "item"):
            t = it.get("t") or "data"
            x = it.get("x")
            value = values[int(x)] if t == "data" and x is not None and \
                int(x) < len(values) else None
            cap = it.get("n")
            lst.append((t, value, decode(cap) if cap is not None else None,
                        _on(it.get("sd"), True)))
        items_of.append(lst)

    def subtotal_on_top(fi: int) -> bool:
        """Does an outline label line of field fi carry the field's subtotal?"""
        if fi >= len(pfields):
            return False
        pf = pfields[fi]
        shown = _on(pf.get("defaultSubtotal"), True) or any(
            _on(pf.get(a), False) for a in _SUBTOTAL_ATTRS)
        return shown and _on(pf.get("subtotalTop"), True) and _on(pf.get("outline"), True)

    def fields_of(name: str) -> list[int]:
        return [_int(f.get("x")) for f in _kids(_kid(root, name), "field")]

    row_fields, col_fields = fields_of("rowFields"), fields_of("colFields")

    def lines(name: str, axis: list[int]) -> list[PivotItem]:
        el = _kid(root, name)
        if el is None:
            return [PivotItem("data")]     # no such axis: one line
        out: list[PivotItem] = []
        prev: list[int] = []
        for i in _kids(el, "i"):
            if len(out) >= _MAX_LINES:
                raise ValueError("too many pivot lines")
            kind = i.get("t") or "data"
            pos = prev[:_int(i.get("r"))] + [_int(x.get("v")) for x in _kids(i, "x")]
            prev = pos
            data = _int(i.get("i"))
            if kind in ("grand", "blank"):
                out.append(PivotItem(kind, [], data))
                continue
            labels = []
            collapsed = False
            for p, v in enumerate(pos[:len(axis)]):
                fi = axis[p]
                if fi == DATA_FIELD:
                    data = v
                elif v != _NO_ITEM:
                    _t, value, cap, expanded = items_of[fi][v]
                    labels.append((fi, value, cap))
                    collapsed = not expanded
            if kind == "data" and len(pos) < len(axis) and not collapsed:
                # an outline line labelling an item whose inner fields follow below: it
                # shows values only when the item's subtotal sits on it
                rest = axis[len(pos):]
                last = labels[-1][0] if labels else None
                if DATA_FIELD in rest or last is None or not subtotal_on_top(last):
                    kind = "header"
            out.append(PivotItem(kind, labels, data))
        return out or [PivotItem("data")]

    data_fields = []
    for df in _kids(_kid(root, "dataFields"), "dataField"):
        fi = _int(df.get("fld"))
        name = df.get("name")
        if name is None:
            fn = _FUNCTION_NAMES.get(df.get("subtotal") or "sum", "Sum")
            name = f"{fn} of {names[fi] if fi < len(names) else ''}"
        data_fields.append(PivotDataField(decode(name), fi))

    pages = []
    for pg in _kids(_kid(root, "pageFields"), "pageField"):
        fi = _int(pg.get("fld"))
        sel = pg.get("item")
        chosen = None
        if sel is not None:
            _t, value, cap, _e = items_of[fi][int(sel)]
            chosen = (value, cap)
        pages.append((fi, chosen))
    page_rows = 0
    if pages:
        page_rows = (_int(loc.get("rowPageCount"), len(pages)) or len(pages)) + 1

    return PivotTable(
        name=decode(root.get("name") or ""), sheet=sheet, ref=(r1, c1, r2, c2),
        first_data_row=_int(loc.get("firstDataRow")),
        first_data_col=_int(loc.get("firstDataCol")), fields=names,
        row_fields=row_fields, col_fields=col_fields,
        row_items=lines("rowItems", row_fields), col_items=lines("colItems", col_fields),
        data_fields=data_fields, page_fields=pages, page_rows=page_rows)
