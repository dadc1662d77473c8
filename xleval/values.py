"""Excel's value model: the Python types a cell can hold, error values, and the coercions
and comparisons Excel applies between them.

Scalars are plain Python: float (every number; ints are normalised to float), str, bool,
None (a blank cell), and XLError. Arrays are `Array` (a list of row lists of scalars).
References stay references (see evaluator.refs) until a function asks for values.
"""
from __future__ import annotations

import copyreg
import math
from dataclasses import dataclass
from types import MappingProxyType


class XLError(Exception):
    """An Excel error value (#N/A, #VALUE!, ...). Also raisable, so deep code can bail out
    with an error and the evaluator turns it into the cell's value."""

    __slots__ = ("code",)

    def __init__(self, code: str):
        self.code = code

    def __repr__(self) -> str:
        return self.code

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, XLError) and other.code == self.code

    def __hash__(self) -> int:
        return hash(self.code)

    def __reduce__(self):
        return (error, (self.code,))


NULL = XLError("#NULL!")
DIV0 = XLError("#DIV/0!")
VALUE = XLError("#VALUE!")
REF = XLError("#REF!")
NAME = XLError("#NAME?")
NUM = XLError("#NUM!")
NA = XLError("#N/A")
GETTING_DATA = XLError("#GETTING_DATA")
SPILL = XLError("#SPILL!")
CALC = XLError("#CALC!")
BLOCKED = XLError("#BLOCKED!")
CONNECT = XLError("#CONNECT!")
FIELD = XLError("#FIELD!")
UNKNOWN = XLError("#UNKNOWN!")
BUSY = XLError("#BUSY!")

ERRORS: dict[str, XLError] = {e.code: e for e in (
    NULL, DIV0, VALUE, REF, NAME, NUM, NA, GETTING_DATA, SPILL, CALC, BLOCKED, CONNECT,
    FIELD, UNKNOWN, BUSY)}
# ERROR.TYPE numbers
ERROR_TYPE = {"#NULL!": 1, "#DIV/0!": 2, "#VALUE!": 3, "#REF!": 4, "#NAME?": 5, "#NUM!": 6,
              "#N/A": 7, "#GETTING_DATA": 8, "#SPILL!": 9, "#CONNECT!": 10, "#BLOCKED!": 11,
              "#UNKNOWN!": 12, "#FIELD!": 13, "#CALC!": 14}


def error(code: str) -> XLError:
    """The error value for a code such as '#N/A' (unknown codes become their own value)."""
    e = ERRORS.get(code.upper())
    return e if e is not None else XLError(code.upper())


def _reduce_error(e: XLError):
    return (error, (e.code,))


class Entity(XLError):
    """A linked data type value (Stocks, Geography...; also other rich values such as web
    images), read from the workbook's rich data parts.

    Excel stores such a cell as the error #VALUE! (the fallback older readers see) plus a
    pointer into the rich data. No cached value in the files we can check shows Excel
    treating an entity as text or a number, so every function but _FV/FIELDVALUE sees it as
    that #VALUE! error: it is an XLError with code '#VALUE!' (equal to VALUE) and flows through
    references, IF, INDEX... unchanged, so a field can still be read where it lands.
    `fields` maps field name -> value (float, str, bool, XLError, None, Entity or Array),
    looked up case-insensitively by `field`; `display` is the text Excel shows in the cell;
    `kind` the rich value structure type ('_linkedentity2', '_webimage'...); `rv` the rich
    value's index in xl/richData/rdrichvalue.xml (None when not from a file)."""

    __slots__ = ("display", "fields", "kind", "rv", "_folded")

    def __init__(self, display: str, fields: dict | None = None, kind: str = "",
                 rv: int | None = None):
        XLError.__init__(self, "#VALUE!")
        self.display = display
        self.fields = MappingProxyType(dict(fields or {}))
        self.kind = kind
        self.rv = rv
        self._folded = {k.casefold(): k for k in self.fields}

    def field(self, name: str):
        """The value of field `name` (case-insensitive), or #FIELD! when there is none."""
        key = self._folded.get(name.casefold())
        if key is None:
            return FIELD
        return self.fields[key]

    def __repr__(self) -> str:
        return f"Entity({self.display!r})"

    __str__ = XLError.__str__

    def __reduce__(self):
        return (Entity, (self.display, dict(self.fields), self.kind, self.rv))


def _reduce_entity(e: Entity):
    return e.__reduce__()


def keep_error_pickling() -> None:
    """Error values pickle as their code. Importing dask.distributed runs tblib's
    `pickling_support.install()`, which registers a reducer for every exception class that
    pickles the traceback and the exception chain too; error values are raised singletons
    whose tracebacks and chains grow deep (even cyclic), so pickling a cell value that is an
    error would hit the recursion limit. Called where values cross process boundaries."""
    if copyreg.dispatch_table.get(XLError) is not _reduce_error:
        copyreg.pickle(XLError, _reduce_error)
    if copyreg.dispatch_table.get(Entity) is not _reduce_entity:
        copyreg.pickle(Entity, _reduce_entity)


keep_error_pickling()


# How large one array value may be. Excel refuses a dynamic array of more than 53,687,091
# elements ("Excel ran out of resources"; measured by users, e.g. COUNT(SEQUENCE(3741,
# 14351)) works and one element more does not), and an array may be 2**20 wide, where a
# sheet is 16,384 columns. xleval gives #NUM! for an array over the element limit rather
# than spending minutes and gigabytes on it (SEQUENCE(1048576,16384) was a hang).
MAX_ARRAY_ELEMENTS = 53_687_091
MAX_ARRAY_SIDE = 1_048_576


def too_large(nrows: int, ncols: int) -> bool:
    """An array of this shape is over the element limit (then #NUM!)."""
    return nrows * ncols > MAX_ARRAY_ELEMENTS


class Array:
    """A 2-D array value: `rows` is a list of equally long lists of scalars."""

    __slots__ = ("rows",)

    def __init__(self, rows: list[list]):
        self.rows = rows

    @property
    def nrows(self) -> int:
        return len(self.rows)

    @property
    def ncols(self) -> int:
        return len(self.rows[0]) if self.rows else 0

    def flat(self):
        for row in self.rows:
            yield from row

    def __repr__(self) -> str:
        return f"Array({self.rows!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Array) and other.rows == self.rows

    def __hash__(self):  # arrays are not dictionary keys
        raise TypeError("Array is unhashable")

    def map(self, fn) -> "Array":
        return Array([[fn(v) for v in row] for row in self.rows])

    def get(self, r: int, c: int):
        """Element with Excel's broadcasting of single rows/columns; #N/A when out of range."""
        nr, nc = self.nrows, self.ncols
        if nr == 1:
            r = 0
        if nc == 1:
            c = 0
        if r < nr and c < nc:
            return self.rows[r][c]
        return NA


def is_number(v) -> bool:
    return isinstance(v, float) or (isinstance(v, int) and not isinstance(v, bool))


# ---------------------------------------------------------------------------------------
# Numbers as Excel shows them
# ---------------------------------------------------------------------------------------

def round15(x: float) -> float:
    """Round to 15 significant digits, as Excel does when it compares and displays."""
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.15g}")


def num_to_text(x: float) -> str:
    """A number as Excel turns it into text (`&`, CONCATENATE, TEXT-less coercion):
    up to 15 significant digits, no trailing zeros, scientific for very large/small."""
    if x == 0:
        return "0"
    if isinstance(x, bool):
        return "TRUE" if x else "FALSE"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    ax = abs(x)
    if ax >= 1e-9 and ax < 1e21:
        s = f"{x:.15g}"
        if "e" in s:  # 15-digit representation went scientific; expand it
            mant, exp = s.split("e")
            s = f"{float(s):.{max(0, 15 - 1 - int(exp))}f}"
            if "." in s:
                s = s.rstrip("0").rstrip(".")
            return s
        return s
    # scientific, Excel style: 1.23E+25
    s = f"{x:.14E}"
    mant, exp = s.split("E")
    mant = mant.rstrip("0").rstrip(".")
    sign = exp[0]
    digits = exp[1:].lstrip("0").rjust(2, "0")
    return f"{mant}E{sign}{digits}"


# ---------------------------------------------------------------------------------------
# Coercions (for scalar arguments typed directly or arrived through a reference)
# ---------------------------------------------------------------------------------------

def text_to_number(s: str):
    """Excel's text->number coercion ('1,000', ' 12 ', '50%', '1e3', '$5', dates, times).
    Returns a float or None when the text is not numeric."""
    t = s.strip()
    if not t:
        return None
    if _NUMERIC_OK(t):
        try:
            return float(t.replace(",", ""))
        except ValueError:
            pass
    pct = False
    if t.endswith("%"):
        pct, t = True, t[:-1].strip()
    neg = False
    if t.startswith("(") and t.endswith(")"):
        neg, t = True, t[1:-1].strip()
    if t.startswith(("-", "+")):
        neg ^= t[0] == "-"
        t = t[1:].strip()
    if t.startswith("$"):
        t = t[1:].strip()
    try:
        if not _NUMERIC_OK(t):
            raise ValueError
        v = float(t.replace(",", ""))
    except ValueError:
        from .dates import parse_date_time  # local: dates imports values
        v = parse_date_time(s.strip())
        if v is None:
            return None
        return v / 100 if pct else v
    if neg:
        v = -v
    return v / 100 if pct else v


def _NUMERIC_OK(t: str) -> bool:
    """Digits with optional thousands separators in valid positions, decimal, exponent."""
    return bool(_NUM_TEXT_RE.match(t)) and any(ch.isdigit() for ch in t)


import re as _re  # noqa: E402

_NUM_TEXT_RE = _re.compile(
    r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d*)?(?:[eE][+-]?\d+)?$")


def to_number(v, *, blank=0.0):
    """Coerce a scalar to a number: bool -> 0/1, blank -> 0, numeric text -> number.
    Returns the number, or an XLError (#VALUE! for non-numeric text; errors pass through)."""
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, float):
        return v
    if isinstance(v, int):
        return float(v)
    if v is None:
        return blank
    if isinstance(v, str):
        n = text_to_number(v) if v else None
        return VALUE if n is None else n
    if isinstance(v, XLError):
        return v
    return VALUE


def to_text(v):
    """Coerce a scalar to text: numbers as Excel shows them, TRUE/FALSE, blank -> ''."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (float, int)):
        return num_to_text(float(v))
    if v is None:
        return ""
    if isinstance(v, XLError):
        return v
    return VALUE


def to_bool(v):
    """Coerce a scalar to a boolean: numbers !=0, 'TRUE'/'FALSE' text, blank -> FALSE."""
    if isinstance(v, bool):
        return v
    if isinstance(v, (float, int)):
        return v != 0
    if v is None:
        return False
    if isinstance(v, str):
        u = v.strip().upper()
        if u == "TRUE":
            return True
        if u == "FALSE":
            return False
        return VALUE
    if isinstance(v, XLError):
        return v
    return VALUE


# ---------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------

def _type_rank(v) -> int:
    # Excel orders numbers < text < booleans
    if isinstance(v, bool):
        return 2
    if isinstance(v, str):
        return 1
    return 0


def compare(a, b) -> int:
    """Excel's comparison of two non-error scalars: -1, 0 or 1. Blank compares as 0, "" or
    FALSE depending on the other side; text is case-insensitive; numbers compare at 15
    significant digits."""
    if a is None:
        a = "" if isinstance(b, str) else (False if isinstance(b, bool) else 0.0)
    if b is None:
        b = "" if isinstance(a, str) else (False if isinstance(a, bool) else 0.0)
    ra, rb = _type_rank(a), _type_rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra == 1:
        a, b = a.lower(), b.lower()
    elif ra == 0:
        if a == b:
            return 0
        a, b = round15(a), round15(b)
    if a == b:
        return 0
    return -1 if a < b else 1


@dataclass(frozen=True)
class Blank:
    """Marker type name for documentation; blank cells are represented by None."""
