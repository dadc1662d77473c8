"""A1 reference helpers shared by every stage (1-based rows and columns)."""
from __future__ import annotations

import re

MAX_ROW = 1_048_576
MAX_COL = 16_384

_CELL_RE = re.compile(r"^\$?([A-Za-z]{1,3})\$?([0-9]{1,7})$")


def col_to_num(letters: str) -> int:
    """'A' -> 1, 'AA' -> 27."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - 64)
    return n


def column_numbers(as_bytes: bool = False) -> dict:
    """Column letters (upper case; bytes for the XML scanners) -> number, "A".."ZZ": the
    loader's and writer's fast paths look cell references up here, and `far_column` adds
    the three-letter columns a workbook uses (all 16,384 up front cost 1.7 MB per table
    and ~3 ms of every start). Built once each."""
    got = _COLUMN_TABLES.get(as_bytes)
    if got is None:
        one = ([bytes([c]) for c in range(65, 91)] if as_bytes
               else [chr(c) for c in range(65, 91)])
        names = one + [a + b for a in one for b in one]
        got = _COLUMN_TABLES[as_bytes] = dict(zip(names, range(1, len(names) + 1)))
    return got


def far_column(table: dict, letters: str | bytes) -> int:
    """The number of three-letter column `letters` ("AAA".."XFD", upper case), added to
    `table` (a `column_numbers` table) for next time. KeyError for anything else."""
    if len(letters) != 3:
        raise KeyError(letters)
    text = letters.decode("ascii", "replace") if isinstance(letters, bytes) else letters
    if not (text.isascii() and text.isalpha() and text.isupper()):
        raise KeyError(letters)
    n = col_to_num(text)
    if n > MAX_COL:
        raise KeyError(letters)
    table[letters] = n
    return n


_COLUMN_TABLES: dict[bool, dict] = {}
_COL_CACHE: list[str] = []


def num_to_col(n: int) -> str:
    """1 -> 'A', 27 -> 'AA'."""
    if n <= len(_COL_CACHE) and n > 0:
        return _COL_CACHE[n - 1]
    s = ""
    m = n
    while m > 0:
        m, rem = divmod(m - 1, 26)
        s = chr(65 + rem) + s
    return s


_COL_CACHE.extend(num_to_col(i) for i in range(1, 703))


def parse_cell(ref: str) -> tuple[int, int]:
    """'B3' or '$B$3' -> (3, 2). Raises ValueError."""
    m = _CELL_RE.match(ref.strip())
    if not m:
        raise ValueError(f"not a cell reference: {ref!r}")
    r, c = int(m.group(2)), col_to_num(m.group(1))
    if not (1 <= r <= MAX_ROW and 1 <= c <= MAX_COL):
        raise ValueError(f"cell reference out of bounds: {ref!r}")
    return r, c


def parse_range(ref: str) -> tuple[int, int, int, int]:
    """'A1:C3' or 'B2' -> (r1, c1, r2, c2), normalised so r1<=r2, c1<=c2."""
    ref = ref.strip()
    if ":" in ref:
        a, b = ref.split(":", 1)
        r1, c1 = parse_cell(a)
        r2, c2 = parse_cell(b)
    else:
        r1, c1 = parse_cell(ref)
        r2, c2 = r1, c1
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


def cell_name(row: int, col: int) -> str:
    return f"{num_to_col(col)}{row}"


def range_name(r1: int, c1: int, r2: int, c2: int) -> str:
    if r1 == r2 and c1 == c2:
        return cell_name(r1, c1)
    return f"{cell_name(r1, c1)}:{cell_name(r2, c2)}"


def quote_sheet(name: str) -> str:
    """Quote a sheet name for use in a formula when it needs it."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name) and not _CELL_RE.match(name):
        return name
    return "'" + name.replace("'", "''") + "'"


def split_sheet_ref(text: str) -> tuple[str | None, str]:
    """'Sheet 1'!A1 -> ('Sheet 1', 'A1'); A1 -> (None, 'A1')."""
    text = text.strip()
    if "!" not in text:
        return None, text
    sheet, _, ref = text.rpartition("!")
    if sheet.startswith("'") and sheet.endswith("'"):
        sheet = sheet[1:-1].replace("''", "'")
    return sheet, ref
