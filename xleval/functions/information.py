"""Excel's Information functions: the IS* tests, N, TYPE, ERROR.TYPE, NA, SHEET, SHEETS,
FORMULATEXT, CELL and INFO.

The IS* functions take their argument with kind ANY, so an error is tested rather than
returned (ISERROR(1/0) is TRUE). In a legacy array formula filling more cells than their
array argument has, they test #N/A beyond its end, as Excel does (fills_range, see
registry.invoke_filling)."""
from __future__ import annotations

import os
import re

from .. import values as V
from ..evaluator.lambdas import Lambda
from ..evaluator.refs import Range, RefList
from ..refs import MAX_COL, MAX_ROW, num_to_col
from ..values import Array, XLError
from .registry import ANY, RAW, REF, TEXT, xl


@xl("ISBLANK", ANY, fills_range=True)
def ISBLANK(value):
    return value is None


@xl("ISERR", ANY, fills_range=True)
def ISERR(value):
    return isinstance(value, XLError) and value != V.NA


@xl("ISERROR", ANY, fills_range=True)
def ISERROR(value):
    return isinstance(value, XLError)


@xl("ISNA", ANY, fills_range=True)
def ISNA(value):
    return isinstance(value, XLError) and value == V.NA


@xl("ISNUMBER", ANY, fills_range=True)
def ISNUMBER(value):
    return isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool))


@xl("ISTEXT", ANY, fills_range=True)
def ISTEXT(value):
    return isinstance(value, str)


@xl("ISNONTEXT", ANY, fills_range=True)
def ISNONTEXT(value):
    return not isinstance(value, str)


@xl("ISLOGICAL", ANY, fills_range=True)
def ISLOGICAL(value):
    return isinstance(value, bool)


def _parity_number(cx, value):
    if isinstance(value, RefList):
        if len(value.areas) != 1:
            raise V.VALUE
        value = value.areas[0]
    if isinstance(value, Range):
        if value.r1 != value.r2 or value.c1 != value.c2:
            raise V.VALUE       # ISEVEN/ISODD do not take ranges or arrays
        value = cx.ev.value_at(value.sheet, value.r1, value.c1)
    elif isinstance(value, Array):
        if value.nrows != 1 or value.ncols != 1:
            raise V.VALUE
        value = value.rows[0][0]
    if isinstance(value, XLError):
        raise value
    if isinstance(value, bool):
        raise V.VALUE
    n = V.to_number(value)
    if isinstance(n, XLError):
        raise n
    return abs(int(n))


@xl("ISEVEN", RAW, ctx=True)
def ISEVEN(cx, number):
    return _parity_number(cx, number) % 2 == 0


@xl("ISODD", RAW, ctx=True)
def ISODD(cx, number):
    return _parity_number(cx, number) % 2 == 1


@xl("ISREF", RAW)
def ISREF(value):
    return isinstance(value, (Range, RefList))


def _formula_at(ev, sheet: int, r: int, c: int):
    """(FormulaCell, row, col of the cell it is written for) or None."""
    fc = ev.formulas[sheet].get((r, c))
    if fc is not None:
        return fc, r, c
    cov = ev.covered[sheet].get((r, c)) if sheet < len(ev.covered) else None
    if cov is not None:
        fc = ev.formulas[sheet].get(cov)
        if fc is not None:
            return fc, cov[0], cov[1]
    return None


def _first_area(ref):
    if isinstance(ref, RefList):
        return ref.areas[0]
    return ref


def _per_cell(cx, reference, fn):
    """fn(sheet, row, col) for the reference's top-left cell, or for every cell (an Array)
    when an array formula passes a range."""
    a = _first_area(reference)
    if cx.array_mode and (a.r1 != a.r2 or a.c1 != a.c2):
        r1, c1, r2, c2 = cx.ev._trim(a)
        return Array([[fn(a.sheet, r, c) for c in range(c1, c2 + 1)]
                      for r in range(r1, r2 + 1)])
    return fn(a.sheet, a.r1, a.c1)


@xl("ISFORMULA", REF, ctx=True)
def ISFORMULA(cx, reference):
    return _per_cell(cx, reference,
                     lambda s, r, c: _formula_at(cx.ev, s, r, c) is not None)


@xl("N", RAW, ctx=True)
def N(cx, value):
    from .text import first_value
    value = first_value(cx, value)
    if isinstance(value, XLError):
        return value
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, float):
        return value
    return 0.0


@xl("TYPE", RAW, ctx=True)
def TYPE(cx, value):
    if isinstance(value, RefList):
        if len(value.areas) != 1:
            return 16.0
        value = value.areas[0]
    if isinstance(value, Range):
        if value.r1 == value.r2 and value.c1 == value.c2:
            value = cx.ev.value_at(value.sheet, value.r1, value.c1)
        else:
            return 64.0
    if isinstance(value, Array):
        return 64.0
    if isinstance(value, Lambda):
        return 128.0
    if isinstance(value, bool):
        return 4.0
    if isinstance(value, str):
        return 2.0
    if isinstance(value, XLError):
        return 16.0
    return 1.0


@xl("ERROR.TYPE", ANY)
def ERROR_TYPE(error_val):
    if isinstance(error_val, XLError):
        n = V.ERROR_TYPE.get(error_val.code)
        return V.NA if n is None else float(n)
    return V.NA


@xl("NA")
def NA():
    return V.NA


@xl("SHEET", RAW, ctx=True)
def SHEET(cx, value=None):
    ev = cx.ev
    if value is None:
        return float(cx.sheet + 1)
    if isinstance(value, RefList):
        value = value.areas[0]
    if isinstance(value, Range):
        if value.sheet >= ev.n_local:
            return V.NA
        return float(value.sheet + 1)
    if isinstance(value, XLError):
        return value
    if isinstance(value, str):
        try:
            return float(ev.sheet_index(value) + 1)
        except KeyError:
            return V.NA
    return V.NA


@xl("SHEETS", RAW, ctx=True)
def SHEETS(cx, reference=None):
    ev = cx.ev
    if reference is None:
        return float(ev.n_local)
    if isinstance(reference, Range):
        return 1.0
    if isinstance(reference, RefList):
        return float(len({a.sheet for a in reference.areas}))
    if isinstance(reference, XLError):
        return reference
    return V.VALUE


# ---------------------------------------------------------------------------------------
# FORMULATEXT: the formula as Excel shows it in the formula bar
# ---------------------------------------------------------------------------------------

_CELL_PART = re.compile(r"(\$?)([A-Za-z]{1,3})(\$?)([0-9]{1,7})")
_COL_ONLY = re.compile(r"^(\$?)([A-Za-z]{1,3})$")
_ROW_ONLY = re.compile(r"^(\$?)([0-9]{1,7})$")
_PREFIXES = re.compile(r"_xlfn\.|_xlws\.|_xlpm\.|_xludf\.", re.I)


def _col_num(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def _shift_body(body: str, dr: int, dc: int) -> str | None:
    parts = body.split(":")
    out = []
    for p in parts:
        m = _CELL_PART.fullmatch(p)
        if m:
            ca, cl, ra, rw = m.groups()
            c, r = _col_num(cl), int(rw)
            if not ca:
                c += dc
            if not ra:
                r += dr
            if not (1 <= r <= MAX_ROW and 1 <= c <= MAX_COL):
                return None
            out.append(f"{ca}{num_to_col(c)}{ra}{r}")
            continue
        m = _COL_ONLY.fullmatch(p)
        if m and len(parts) == 2:
            a, cl = m.groups()
            c = _col_num(cl) + (0 if a else dc)
            if not 1 <= c <= MAX_COL:
                return None
            out.append(f"{a}{num_to_col(c)}")
            continue
        m = _ROW_ONLY.fullmatch(p)
        if m and len(parts) == 2:
            a, rw = m.groups()
            r = int(rw) + (0 if a else dr)
            if not 1 <= r <= MAX_ROW:
                return None
            out.append(f"{a}{r}")
            continue
        out.append(p)
    return ":".join(out)


def formula_display(text: str, origin: tuple[int, int], target: tuple[int, int]) -> str:
    """Formula text written at `origin` as it reads at `target` (relative references moved),
    without the _xlfn./_xlws./_xlpm. prefixes of the file format."""
    from ..parser.tokenizer import _structured_end, token_regex
    token_re = token_regex(text)
    dr, dc = target[0] - origin[0], target[1] - origin[1]
    out = []
    pos, n = 0, len(text)
    while pos < n:
        m = token_re.match(text, pos)
        if m is None:
            out.append(text[pos:])
            break
        kind = m.lastgroup
        end = m.end()
        tok = text[pos:end]
        if kind == "sref":
            try:
                end = _structured_end(text, end)
            except Exception:
                end = n
            tok = text[pos:end]
        elif kind == "ref" and (dr or dc):
            if "!" in tok and not tok.upper().endswith("#REF!"):
                i = tok.rindex("!")
                prefix, body = tok[:i + 1], tok[i + 1:]
            else:
                prefix, body = "", tok
            if body.upper() != "#REF!":
                shifted = _shift_body(body, dr, dc)
                tok = prefix + ("#REF!" if shifted is None else shifted)
        elif kind in ("func", "name"):
            tok = _PREFIXES.sub("", tok)
        out.append(tok)
        pos = end
    return "".join(out)


@xl("FORMULATEXT", REF, ctx=True)
def FORMULATEXT(cx, reference):
    return _per_cell(cx, reference, lambda s, r, c: _formula_text(cx, s, r, c))


def _formula_text(cx, sheet, row, col):
    if sheet >= cx.ev.n_local:
        return V.NA
    got = _formula_at(cx.ev, sheet, row, col)
    if got is None:
        return V.NA
    fc, r, c = got
    if fc.kind == "dataTable":
        return V.NA
    body = formula_display(fc.text, fc.origin, (r, c))
    s = "=" + body
    if fc.kind == "array" and not fc.dynamic:
        s = "{" + s + "}"
    return s


# ---------------------------------------------------------------------------------------
# CELL / INFO (volatile)
# ---------------------------------------------------------------------------------------

def _quote_sheet(name: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name) and not _CELL_PART.fullmatch(name):
        return name
    return "'" + name.replace("'", "''") + "'"


def _book_name(ev) -> str:
    path = getattr(ev.wb, "path", "") or ""
    if not path or path.startswith("<"):
        return ""
    return path


@xl("CELL", TEXT, RAW, ctx=True, volatile=True)
def CELL(cx, info_type, reference=None):
    ev = cx.ev
    if reference is None:
        sheet, r, c = cx.sheet, cx.row, cx.col
    elif isinstance(reference, (Range, RefList)):
        a = _first_area(reference)
        sheet, r, c = a.sheet, a.r1, a.c1
    elif isinstance(reference, XLError):
        return reference
    else:
        return V.VALUE
    kind = info_type.strip().lower()
    if kind == "address":
        addr = f"${num_to_col(c)}${r}"
        if sheet != cx.sheet:
            path = _book_name(ev)
            book = os.path.basename(path) if path else "Book1"
            addr = f"[{book}]{ev.sheet_names[sheet]}!{addr}"
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\[\]]*", f"[{book}]{ev.sheet_names[sheet]}"):
                addr = f"'[{book}]{ev.sheet_names[sheet]}'!${num_to_col(c)}${r}"
        return addr
    if kind == "row":
        return float(r)
    if kind == "col":
        return float(c)
    if kind == "contents":
        v = ev.value_at(sheet, r, c)
        return 0.0 if v is None else v
    if kind == "type":
        v = ev.value_at(sheet, r, c)
        if v is None:
            return "b"
        return "l" if isinstance(v, str) else "v"
    if kind == "filename":
        path = _book_name(ev)
        if not path:
            return ""
        d, f = os.path.split(os.path.abspath(path))
        return f"{d}{os.sep}[{f}]{ev.sheet_names[sheet]}"
    if kind == "sheetname":
        return ev.sheet_names[sheet]
    if kind == "format":
        return "G"
    if kind in ("prefix",):
        v = ev.value_at(sheet, r, c)
        return "'" if isinstance(v, str) else ""
    if kind == "protect":
        return 1.0
    if kind == "width":
        return 8.0
    if kind in ("color", "parentheses"):
        return 0.0
    return V.VALUE


@xl("INFO", TEXT, ctx=True, volatile=True)
def INFO(cx, type_text):
    kind = type_text.strip().lower()
    ev = cx.ev
    if kind == "osversion":
        return "Windows (64-bit) NT 10.00"
    if kind == "system":
        return "pcdos"
    if kind == "release":
        return "16.0"
    if kind == "numfile":
        return float(ev.n_local)
    if kind == "recalc":
        return "Automatic"
    if kind == "directory":
        path = _book_name(ev)
        return (os.path.dirname(os.path.abspath(path)) + os.sep) if path else os.getcwd() + os.sep
    if kind == "origin":
        return "$A:$A$1"
    return V.VALUE
