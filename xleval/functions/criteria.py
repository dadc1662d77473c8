"""Excel criteria (SUMIF, COUNTIFS, AVERAGEIF, MAXIFS, D-functions) and wildcard patterns
(MATCH/VLOOKUP/XLOOKUP/SEARCH).

A criterion is a value or a string with an optional operator prefix: "=5", ">=5", "<>",
"<>a*", "a?c", "~*". Numbers match numbers (and text that reads as the same number when the
criterion is an equality); text compares case-insensitively with * ? and ~ wildcards;
"" matches blank cells and a formula's "", "=" blank cells only; "<>" matches non-empty
cells (a formula's "" included);
errors match only the same error.

`criterion_key` and `GroupIndex` (at the end) answer equality criteria over ranges that are
asked again and again from one grouped dictionary, with exactly these rules.
"""
from __future__ import annotations

import re
from functools import lru_cache

from .. import values as V
from ..values import XLError

_OPS = ("<>", ">=", "<=", "=", ">", "<")


class _WildMatch:
    """What WildcardPattern finds; `start()` is where the match begins (SEARCH's answer)."""
    __slots__ = ("_start",)

    def __init__(self, start: int):
        self._start = start

    def start(self) -> int:
        return self._start


class WildcardPattern:
    """An Excel wildcard pattern (* any run, ? one character, ~ escapes), matched
    case-insensitively by `fullmatch(text)` and `search(text, pos)`, as a compiled re.

    Not one regex with a `.*` per star: re backtracks through every split of the text
    among the stars, so "*a*a*a*a*b" against 300 a's ran for minutes (COUNTIF, MATCH,
    VLOOKUP, SEARCH...). Between the stars are runs of fixed length (literals and ?), and
    the leftmost place of each run after the one before is always a right choice, so a
    match is one walk through the text."""
    __slots__ = ("_runs",)

    def __init__(self, runs: list):
        self._runs = runs                # (regex, length) per run; stars between them

    def fullmatch(self, text: str):
        runs = self._runs
        if len(runs) == 1:
            return runs[0][0].fullmatch(text)
        m = runs[0][0].match(text)
        if m is None:
            return None
        pos = m.end()
        for rx, _ in runs[1:-1]:
            m = rx.search(text, pos)
            if m is None:
                return None
            pos = m.end()
        rx, n = runs[-1]
        start = len(text) - n
        if start < pos or rx.fullmatch(text, start) is None:
            return None
        return _WildMatch(0)

    def search(self, text: str, pos: int = 0):
        runs = self._runs
        first = runs[0][0].search(text, pos)
        if first is None:
            return None
        # a later start of the first run leaves less room for the others: if they do not
        # fit after the leftmost one, they fit after none
        at = first.end()
        for rx, _ in runs[1:]:
            m = rx.search(text, at)
            if m is None:
                return None
            at = m.end()
        return _WildMatch(first.start())


@lru_cache(maxsize=4096)
def wildcard_regex(pattern: str) -> WildcardPattern:
    """Compile an Excel wildcard pattern (* any run, ? one character, ~ escapes) into a
    case-insensitive matcher with re's `fullmatch` and `search` (see WildcardPattern)."""
    runs = [[]]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "~" and i + 1 < len(pattern) and pattern[i + 1] in "*?~":
            runs[-1].append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if ch == "*":
            runs.append([])
        elif ch == "?":
            runs[-1].append(".")
        else:
            runs[-1].append(re.escape(ch))
        i += 1
    # each element of a run matches one character (re folds case one to one): fixed length
    return WildcardPattern([(re.compile("".join(r), re.IGNORECASE | re.DOTALL), len(r))
                            for r in runs])


def has_wildcards(s: str) -> bool:
    return any(ch in s for ch in "*?~")


def _num(text: str):
    n = V.text_to_number(text)
    return n


def _split_op(crit: str) -> tuple[str, str]:
    """A text criterion's comparison operator ('=' when none is written) and operand."""
    for o in _OPS:
        if crit.startswith(o):
            return o, crit[len(o):]
    return "=", crit


@lru_cache(maxsize=4096)
def _compile_text(crit: str):
    op, rest = _split_op(crit)
    if rest == "" and op in ("=", "<>"):
        if op == "=":
            if crit:                  # "=" alone: truly empty cells only (LibreOffice and
                return lambda v: v is None    # formualizer agree; "" takes "" text too)
            return lambda v: v is None or v == ""
        # "<>" is "not an empty cell": a formula's "" counts (IronCalc and LibreOffice agree)
        return lambda v: v is not None
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


# ---------------------------------------------------------------------------------------
# equality keys and the grouped index of SUMIFS / COUNTIFS / AVERAGEIFS / MAXIFS / MINIFS
# ---------------------------------------------------------------------------------------
# A copied-down SUMIFS asks the same ranges thousands of times with a different equality
# criterion each time. Instead of testing every cell per call, the engine builds (once per
# calculation) a dictionary from the tuple of the cells' keys to their positions; a call is
# then one lookup. Keys mirror the predicates above exactly:
#   ("s", text.lower())   plain text equality; a blank cell and "" both have BLANK_KEY,
#                         which is the key of the blank criterion "" ("=", blank cells
#                         only, has none: tested cell by cell)
#   ("n", round15(x))     numeric equality (numbers compare at 15 significant digits);
#                         text that reads as a number also gets this key, but matches only
#                         on exact equality, so such candidates are re-tested (`numtext`)
#   ("b", bool), ("e", "#N/A")   logicals and errors
# Criteria without a key (comparisons, "<>", wildcards) are tested cell by cell.

BLANK_KEY = ("s", "")


def criterion_key(crit):
    """The index key of an equality criterion (see above), or None when the criterion has
    to be tested cell by cell."""
    if crit is None:
        return ("n", 0.0)                  # an empty criterion cell acts as the number 0
    t = type(crit)
    if t is bool:
        return ("b", crit)
    if t is float:
        return ("n", V.round15(crit)) if crit == crit else None
    if t is str:
        return _text_key(crit)
    if isinstance(crit, XLError):
        return ("e", crit.code)
    return None


@lru_cache(maxsize=4096)
def _text_key(crit: str):
    """criterion_key of a text criterion: the equality cases of `_compile_text`."""
    op, rest = _split_op(crit)
    if op != "=":
        return None
    if rest == "":
        # "": blank cells and "" text share BLANK_KEY; "=" (blank cells only) has no key
        return BLANK_KEY if not crit else None
    err = V.ERRORS.get(rest.upper())
    if err is not None:
        return ("e", err.code)
    n = _num(rest)
    if n is not None and isinstance(n, float):
        return ("n", V.round15(n)) if n == n else None
    low = rest.lower()
    if low in ("true", "false"):
        return ("b", low == "true")
    if has_wildcards(rest):
        return None
    return ("s", low)


class Unindexable(Exception):
    """A range holds a value of a type the keys do not describe: scan it instead."""


def _column_keys(vals: list) -> tuple[list, bool]:
    """The key of every value (a list of keys for text that reads as a number, None for a
    value no equality criterion matches), and whether any text reads as a number."""
    keys = []
    numtext = False
    memo: dict = {}
    round15 = V.round15
    for v in vals:
        t = type(v)
        if t is str:
            k = memo.get(v)
            if k is None:
                n = V.text_to_number(v)
                k = ("s", v.lower())
                if isinstance(n, float) and n == n:
                    k = [k, ("n", round15(n))]
                memo[v] = k
            if type(k) is list:
                numtext = True
        elif t is float:
            k = ("n", round15(v)) if v == v else None
        elif v is None:
            k = BLANK_KEY
        elif t is bool:
            k = ("b", v)
        elif isinstance(v, XLError):
            k = ("e", v.code)
        else:
            raise Unindexable
        keys.append(k)
    return keys, numtext


class GroupIndex:
    """Positions (ascending) of the cells of one or more equally sized ranges, grouped by
    the tuple of their keys. `numtext[i]`: range i holds text that reads as a number, so a
    numeric key's candidates there must be re-tested with the criterion's predicate."""

    __slots__ = ("groups", "numtext", "hits")

    def __init__(self, cols: list[list]):
        """cols: the flat values of each range (all of one length). Raises Unindexable."""
        per_col = [_column_keys(vals) for vals in cols]
        self.numtext = [nt for _, nt in per_col]
        groups: dict = {}
        if len(cols) == 1:
            for i, k in enumerate(per_col[0][0]):
                if type(k) is list:
                    for kk in k:
                        groups.setdefault((kk,), []).append(i)
                elif k is not None:
                    groups.setdefault((k,), []).append(i)
        else:
            for i, ks in enumerate(zip(*(keys for keys, _ in per_col))):
                if None in ks:
                    continue
                combos = [()]
                for k in ks:
                    if type(k) is list:
                        combos = [c + (kk,) for c in combos for kk in k]
                    else:
                        combos = [c + (k,) for c in combos]
                for c in combos:
                    groups.setdefault(c, []).append(i)
        self.groups = groups
        self.hits = 0

    def positions(self, keys: tuple) -> list:
        """The positions whose cells have these keys (one per range), ascending."""
        self.hits += 1
        return self.groups.get(keys, [])
