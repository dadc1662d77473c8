"""Database functions: DSUM, DAVERAGE, DCOUNT, DCOUNTA, DGET, DMAX, DMIN, DPRODUCT, DSTDEV,
DSTDEVP, DVAR, DVARP.

    DSUM(database, field, criteria)

`database` is a range whose first row holds the field names; `field` is a field name
(case-insensitive) or a 1-based column number; `criteria` is a range whose first row holds
field names and whose other rows hold conditions. Conditions on one row must all hold (AND);
a record is selected when any row holds (OR). A blank condition holds for every record, so a
blank criteria row selects everything. Plain text matches field values that begin with it
(as in Excel's Advanced Filter: "Dav" selects "Davolio"); "=text" matches the whole value;
operators and wildcards work as in SUMIF.
"""
from __future__ import annotations

import math

from .. import values as V
from ..values import Array, XLError
from .criteria import make_criterion
from .registry import ARRAY, SCALAR, xl


def _header_key(v) -> str:
    if v is None:
        return ""
    t = V.to_text(v)
    return t.strip().lower() if isinstance(t, str) else ""


def _field_index(headers: list, field) -> int | None:
    """0-based column of the field, None when the field was omitted."""
    if field is None:
        return None
    if isinstance(field, bool):
        raise V.VALUE
    if isinstance(field, float):
        i = int(field)
        if i < 1 or i > len(headers):
            raise V.VALUE
        return i - 1
    key = str(field).strip().lower()
    if key:
        for i, h in enumerate(headers):
            if _header_key(h) == key:
                return i
    raise V.VALUE


def _condition(crit):
    """The predicate of one criteria cell."""
    if isinstance(crit, str):
        t = crit
        if t and not t.startswith(("=", "<", ">")):
            plain = (V.text_to_number(t) is None and t.strip().upper() not in ("TRUE", "FALSE")
                     and t.strip().upper() not in V.ERRORS)
            if plain:
                return make_criterion(t + "*")      # begins with
    return make_criterion(crit)


def _selected_rows(database: Array, criteria: Array) -> list[list]:
    if database.nrows < 1 or criteria.nrows < 1:
        raise V.VALUE
    headers = database.rows[0]
    index = {}
    for i, h in enumerate(headers):
        index.setdefault(_header_key(h), i)
    crit_headers = criteria.rows[0]
    cond_rows = []
    for row in criteria.rows[1:]:
        conds = []
        for h, c in zip(crit_headers, row):
            if c is None or (isinstance(c, str) and c == ""):
                continue
            col = index.get(_header_key(h)) if h is not None else None
            if col is None:
                # a computed criterion (its formula was evaluated against the first record)
                # or an unknown field: Excel's result is only reproducible for TRUE/FALSE
                conds.append((None, (lambda v, c=c: c is True)))
                continue
            conds.append((col, _condition(c)))
        cond_rows.append(conds)
    if not cond_rows:
        return []
    out = []
    for rec in database.rows[1:]:
        for conds in cond_rows:
            ok = True
            for col, test in conds:
                v = rec[col] if col is not None else None
                if not test(v):
                    ok = False
                    break
            if ok:
                out.append(rec)
                break
    return out


def _column(database, field, criteria):
    """(selected records, field column index or None)."""
    for a in (database, criteria):
        if a.nrows == 1 and a.ncols == 1 and isinstance(a.rows[0][0], XLError):
            raise a.rows[0][0]
    col = _field_index(database.rows[0] if database.rows else [], field)
    return _selected_rows(database, criteria), col


def _numbers(database, field, criteria) -> list[float]:
    recs, col = _column(database, field, criteria)
    if col is None:
        raise V.VALUE
    out = []
    for rec in recs:
        v = rec[col]
        if isinstance(v, XLError):
            raise v
        if isinstance(v, float) and not isinstance(v, bool):
            out.append(v)
    return out


def _var(xs: list[float], sample: bool) -> float:
    """VAR / VARP of the matching numbers, computed as those are (statistical.var_s)."""
    from .statistical import var_p, var_s
    return var_s(xs) if sample else var_p(xs)


@xl("DSUM", ARRAY, SCALAR, ARRAY)
def DSUM(database, field, criteria):
    return math.fsum(_numbers(database, field, criteria))


@xl("DAVERAGE", ARRAY, SCALAR, ARRAY)
def DAVERAGE(database, field, criteria):
    xs = _numbers(database, field, criteria)
    if not xs:
        return V.DIV0
    return math.fsum(xs) / len(xs)


@xl("DCOUNT", ARRAY, SCALAR, ARRAY)
def DCOUNT(database, field, criteria):
    recs, col = _column(database, field, criteria)
    if col is None:
        return float(len(recs))
    return float(sum(1 for r in recs
                     if isinstance(r[col], float) and not isinstance(r[col], bool)))


@xl("DCOUNTA", ARRAY, SCALAR, ARRAY)
def DCOUNTA(database, field, criteria):
    recs, col = _column(database, field, criteria)
    if col is None:
        return float(len(recs))
    return float(sum(1 for r in recs if r[col] is not None))


@xl("DGET", ARRAY, SCALAR, ARRAY)
def DGET(database, field, criteria):
    recs, col = _column(database, field, criteria)
    if col is None:
        return V.VALUE
    if not recs:
        return V.VALUE
    if len(recs) > 1:
        return V.NUM
    v = recs[0][col]
    return 0.0 if v is None else v


@xl("DMAX", ARRAY, SCALAR, ARRAY)
def DMAX(database, field, criteria):
    xs = _numbers(database, field, criteria)
    return max(xs) if xs else 0.0


@xl("DMIN", ARRAY, SCALAR, ARRAY)
def DMIN(database, field, criteria):
    xs = _numbers(database, field, criteria)
    return min(xs) if xs else 0.0


@xl("DPRODUCT", ARRAY, SCALAR, ARRAY)
def DPRODUCT(database, field, criteria):
    xs = _numbers(database, field, criteria)
    if not xs:
        return 0.0
    p = 1.0
    for x in xs:
        p *= x
    return p


@xl("DSTDEV", ARRAY, SCALAR, ARRAY)
def DSTDEV(database, field, criteria):
    return math.sqrt(_var(_numbers(database, field, criteria), True))


@xl("DSTDEVP", ARRAY, SCALAR, ARRAY)
def DSTDEVP(database, field, criteria):
    return math.sqrt(_var(_numbers(database, field, criteria), False))


@xl("DVAR", ARRAY, SCALAR, ARRAY)
def DVAR(database, field, criteria):
    return _var(_numbers(database, field, criteria), True)


@xl("DVARP", ARRAY, SCALAR, ARRAY)
def DVARP(database, field, criteria):
    return _var(_numbers(database, field, criteria), False)
