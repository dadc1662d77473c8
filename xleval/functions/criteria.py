"""Excel criteria (SUMIF, COUNTIFS, AVERAGEIF, MAXIFS, D-functions) and wildcard patterns
(MATCH/VLOOKUP/XLOOKUP/SEARCH).

A criterion is a value or a string with an optional operator prefix: "=5", ">=5", "<>",
"<>a*", "a?c", "~*". Numbers match numbers (and text that reads as the same number when the
criterion is an equality); text compares case-insensitively with * ? and ~ wildcards;
"=" matches blank cells; "<>" matches non-blank cells; errors match only the same error.
"""
from __future__ import annotations

import re
from functools import lru_cache

from .. import values as V
from ..values import XLError

_OPS = ("<>", ">=", "<=", "=", ">", "<")


@lru_cache(maxsize=4096)
def wildcard_regex(pattern: str) -> re.Pattern:
    """Compile an Excel wildcard pattern (* any run, ? one character, ~ escapes) into a
    case-insensitive full-match regex."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "~" and i + 1 < len(pattern) and pattern[i + 1] in "*?~":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def has_wildcards(s: str) -> bool:
    return any(ch in s for ch in "*?~")


def _num(text: str):
    n = V.text_to_number(text)
    return n


@lru_cache(maxsize=4096)
def _compile_text(crit: str):
    op = "="
    rest = crit
    for o in _OPS:
        if crit.startswith(o):
            op, rest = o, crit[len(o):]
            break
    if rest == "" and op in ("=", "<>"):
        if op == "=":
            return lambda v: v is None or v == ""
        return lambda v: not (v is None or v == "")
    err = V.ERRORS.get(rest.upper())
    if err is not None:
        if op == "=":
            return lambda v: isinstance(v, XLError) and v == err
        if op == "<>":
            return lambda v: not (isinstance(v, XLError) and v == err)
        return lambda v: False
    n = _num(rest)
    if n is not None:
        if isinstance(n, float):
            return _numeric(op, n)
    low = rest.lower()
    if low in ("true", "false"):
        b = low == "true"
        if op == "=":
            return lambda v: isinstance(v, bool) and v == b
        if op == "<>":
            return lambda v: not (isinstance(v, bool) and v == b)
        return _ordered(op, b)
    if op in ("=", "<>"):
        if has_wildcards(rest):
            rx = wildcard_regex(rest)
            if op == "=":
                return lambda v: isinstance(v, str) and rx.fullmatch(v) is not None
            return lambda v: not (isinstance(v, str) and rx.fullmatch(v) is not None)
        if op == "=":
            return lambda v: isinstance(v, str) and v.lower() == low
        return lambda v: not (isinstance(v, str) and v.lower() == low)
    return _ordered(op, rest)


def _numeric(op: str, n: float):
    def test(v):
        if isinstance(v, bool) or v is None:
            return op == "<>"
        if isinstance(v, str):
            if op in ("=", "<>"):
                m = V.text_to_number(v) if v.strip() else None
                eq = m is not None and m == n
                return (not eq) if op == "<>" else eq
            return False
        if isinstance(v, XLError):
            return op == "<>"
        c = V.compare(v, n)
        return _cmp_ok(op, c)
    return test


def _ordered(op: str, target):
    def test(v):
        if v is None or isinstance(v, XLError):
            return False
        if type(v) is not type(target) and not (isinstance(v, float) and isinstance(target, float)):
            return False
        return _cmp_ok(op, V.compare(v, target))
    return test


def _cmp_ok(op, c):
    if op == "=":
        return c == 0
    if op == "<>":
        return c != 0
    if op == ">":
        return c > 0
    if op == ">=":
        return c >= 0
    if op == "<":
        return c < 0
    return c <= 0


def make_criterion(crit):
    """A predicate value -> bool for a criterion argument (already a scalar)."""
    if crit is None:
        # an empty criterion cell acts as the number 0
        return _numeric("=", 0.0)
    if isinstance(crit, bool):
        return lambda v: isinstance(v, bool) and v == crit
    if isinstance(crit, float):
        return _numeric("=", crit)
    if isinstance(crit, XLError):
        return lambda v: isinstance(v, XLError) and v == crit
    return _compile_text(str(crit))
