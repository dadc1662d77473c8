"""Structured references to Excel tables: Table1[Col], Table1[[#This Row],[Col]],
[@Col], Table1[#Totals], Table1[[#Headers],[A]:[B]] ..."""
from __future__ import annotations

from .. import values as V
from .refs import Range

_SPECIALS = {"#all", "#data", "#headers", "#totals", "#this row"}


def _unescape(name: str) -> str:
    out = []
    i = 0
    while i < len(name):
        ch = name[i]
        if ch == "'" and i + 1 < len(name):
            out.append(name[i + 1])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out).strip()


def _split_items(spec: str) -> list[str]:
    """Top-level items of a structured reference, e.g. '[#Data],[A]:[B]' -> ['[#Data]',
    '[A]:[B]']."""
    items, depth, cur, i = [], 0, [], 0
    while i < len(spec):
        ch = spec[i]
        if ch == "'" and i + 1 < len(spec):
            cur.append(spec[i:i + 2])
            i += 2
            continue
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            items.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    if cur or not items:
        items.append("".join(cur).strip())
    return [x for x in items if x != ""] if spec.strip() else []


def _strip(item: str) -> str:
    item = item.strip()
    if item.startswith("[") and item.endswith("]"):
        return item[1:-1]
    return item


def resolve_structured(ev, table: str | None, spec: str, cx):
    """The Range a structured reference denotes in the context of cell cx."""
    if table is None:
        t = ev.table_at(cx.sheet, cx.row, cx.col)
    else:
        t = ev.tables.get(table.upper())
    if t is None:
        return V.REF
    try:
        sheet = ev.sheet_index(t.sheet)
    except KeyError:
        return V.REF
    r1, c1, r2, c2 = t.ref
    hdr_end = r1 + t.header_rows - 1
    data1 = r1 + t.header_rows
    data2 = r2 - t.totals_rows
    cols = [c.lower() for c in t.columns]
    area = set()
    col_lo, col_hi = c1, c2
    spec = spec.strip()
    this_row = False
    items = _split_items(spec)
    if spec.startswith("@"):
        this_row = True
        rest = spec[1:].strip()
        items = [rest] if rest else []
    col_items = []
    for it in items:
        inner = _strip(it)
        low = inner.lower()
        if low in _SPECIALS and ":" not in it.replace("'", ""):
            if low == "#this row":
                this_row = True
            else:
                area.add(low)
        elif it.startswith("@"):
            this_row = True
            col_items.append(it[1:])
        else:
            col_items.append(it)
    if col_items:
        # a single column, or a column range [A]:[B]
        joined = ",".join(col_items)
        parts = _split_colon(joined)
        idx = []
        for p in parts:
            raw = _strip(p)
            name = _unescape(raw).lower()
            if name in cols:
                idx.append(cols.index(name))
                continue
            # column names may carry leading/trailing spaces ("Field 4 ")
            stripped = [c.strip() for c in cols]
            if name.strip() not in stripped:
                return V.REF
            idx.append(stripped.index(name.strip()))
        col_lo, col_hi = c1 + min(idx), c1 + max(idx)
    if this_row:
        row = cx.row
        if row < data1 or row > data2:
            return V.VALUE
        return Range(sheet, row, col_lo, row, col_hi)
    if not area:
        area = {"#data"}
    rows = []
    if "#all" in area:
        rows = [r1, r2]
    else:
        if "#headers" in area and t.header_rows:
            rows += [r1, hdr_end]
        if "#data" in area:
            rows += [data1, data2]
        if "#totals" in area:
            if not t.totals_rows:
                return V.REF
            rows += [data2 + 1, r2]
    if not rows:
        return V.REF
    lo, hi = min(rows), max(rows)
    if hi < lo:
        return V.REF
    return Range(sheet, lo, col_lo, hi, col_hi)


def _split_colon(s: str) -> list[str]:
    depth = 0
    for i, ch in enumerate(s):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == ":" and depth == 0:
            return [s[:i], s[i + 1:]]
    return [s]
