"""Write recalculated values back into a copy of an .xlsx/.xlsm workbook.

Only the cached values of the target cells change. Sheet parts are patched as a byte stream
(a small tokenizer over `<row>` and `<c>` tags), so formulas, styles, dynamic-array markers,
extension lists and every other attribute stay exactly as they were; every other zip entry is
copied with its original name, order, date and compression method (deflate level 1 for the
streamed parts). Sheets stream from the input zip member to the output member a few MB of
whole rows at a time: one `re.split` cuts out the cells in the usual form and the target cells
among them are looked up and rebuilt in bulk (their floats printed in one call), the general
patcher does the rest (cells to insert, other forms) in the same piece. `xl/calcChain.xml` is
dropped (with its relationship and content-type override) because the chain may no longer
match; Excel rebuilds it on open.

Value encoding (CT_Cell):
  float          <v>shortest round-trip repr</v>   (NaN/inf -> t="e" #NUM!)
  str            formula cell: t="str" <v>text</v>; cell without <f>: t="inlineStr" <is><t>
  bool           t="b" <v>1|0</v>
  XLError        t="e" <v>#N/A</v>
  None (blank)   formula cell: t="str" <v></v>; otherwise the value is removed
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import posixpath
import re
import shutil
import struct
import sys
import tempfile
import zipfile
import zlib
from array import array
from bisect import bisect_right
from collections import deque
from itertools import compress, count, islice, repeat
from operator import gt, is_, is_not, itemgetter, ne
from typing import TYPE_CHECKING, Iterator, NamedTuple

from ..deflate import LEVEL, compressor, open_member, use_fast_compressor
from ..forking import MAX_WORKERS, can_fork, start_helper, workers_ok
from ..errors import OutputError
from ..refs import MAX_COL, MAX_ROW, col_to_num, column_numbers, far_column, num_to_col
from ..values import ERROR_TYPE, VALUE, XLError

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

__all__ = ["write_values", "CellValues", "resolve_sheet_parts", "patch_sheet_xml",
           "rich_error_fallbacks",
           "patch_external_xml",
           "atomic_output", "encode_number", "encode_text"]

Values = dict[tuple[int, int], object]


class ArrayAnchor(NamedTuple):
    """The value of a dynamic array's anchor cell whose spill range is no longer the one
    its `<f t="array" ref=...>` records: the writer writes `value` and sets that `ref` to
    `ref` ("A1:B5"; the anchor alone when it is #SPILL!). Excel reads the spilled cells
    as part of the array only inside that range: outside it, as constants in its way."""
    value: object
    ref: str


class CellValues:
    """A sheet's target values read from its value dict `cells` only when needed: the
    values at `positions` (distinct (row, col) pairs of ints within the sheet, e.g. the
    engine's own keys: trusted, not checked again), `blank` (a not-computed marker) and
    absent positions reading as None. Saving a large sheet then copies no value in the
    parent: the pool's workers, forked, read the values of their own pieces' rows. Anywhere
    a plain dict of targets goes, this goes too (see _as_dict). `formula_cells`: every
    position is a formula cell of the part (a <c> holding an <f>), so the patcher's fast
    path cuts out those cells only (_FAST_FCELL)."""

    __slots__ = ("cells", "positions", "blank", "formula_cells")

    def __init__(self, cells: dict, positions: list[tuple[int, int]], blank: object = None,
                 formula_cells: bool = False):
        self.cells = cells
        self.positions = positions
        self.blank = blank
        self.formula_cells = formula_cells

    def __len__(self) -> int:
        return len(self.positions)

    def __iter__(self):
        return iter(self.positions)

    def values_of(self, keys: list[tuple[int, int]]) -> list:
        """The values at `keys` (some of `positions`), in order."""
        vals = list(map(self.cells.get, keys))
        b = self.blank
        if b is not None and any(map(is_, vals, repeat(b))):
            vals = [None if v is b else v for v in vals]
        return vals


def _as_dict(targets) -> Values:
    """A plain {position: value} dict of targets (a dict is returned as a copy)."""
    if isinstance(targets, CellValues):
        return dict(zip(targets.positions, targets.values_of(targets.positions)))
    return dict(targets)


def rich_error_fallbacks(targets, rich: dict):
    """`targets` with the errors Excel saves as rich values written as Excel writes them.

    A #SPILL!, #CALC!, #FIELD!... result is stored by Excel as the fallback error #VALUE!
    plus a vm attribute pointing to a rich error value (see loader/richdata.py); the errors
    every Excel version knows (#N/A, #DIV/0!...) are written as themselves even when a rich
    error adds details (formulas/test.xlsx: REGEXEXTRACT's #N/A cached as #N/A). The writer
    keeps every cell's vm as it was, so where a cell's vm already says the error the engine
    computed, the cell gets that same fallback #VALUE! (the file then reads as Excel saved
    it). `rich` is the sheet's {(row, col): value of its vm} (SheetData.rich). Targets are
    returned unchanged (not copied) when no cell needs it."""
    swap = []
    for rc, rv in rich.items():
        if not isinstance(rv, XLError) or rv.code in _CLASSIC_ERRORS:
            continue
        if isinstance(targets, CellValues):
            if rc not in targets.cells:
                continue
            got = targets.cells[rc]
        else:
            got = targets.get(rc, targets)
        if isinstance(got, XLError) and got.code == rv.code:
            swap.append(rc)
    if not swap:
        return targets
    out = _as_dict(targets)
    for rc in swap:
        if rc in out:
            out[rc] = VALUE
    return out


# the errors every Excel version knows: ERROR.TYPE 1 (#NULL!) to 8 (#GETTING_DATA)
_CLASSIC_ERRORS = frozenset(code for code, n in ERROR_TYPE.items() if n <= 8)


def _values_of(targets, keys: list) -> list:
    """The values of `keys` among `targets` (a dict or CellValues)."""
    if isinstance(targets, CellValues):
        return targets.values_of(keys)
    return list(map(targets.__getitem__, keys))

# ---------------------------------------------------------------------------------------
# Atomic output
# ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def atomic_output(dst: str, *, mode_from: str | None = None) -> Iterator:
    """Yield a binary file object for a temporary file next to `dst`; on success it replaces
    `dst` atomically, on any exception it is deleted (dst untouched) and the exception is
    re-raised as OutputError (one line)."""
    dst = os.fspath(dst)
    check_destination(dst)
    shown = dst
    if os.path.islink(dst):                 # write through the link: it stays a link
        dst = os.path.realpath(dst)
    tmp = None
    try:
        folder = os.path.dirname(os.path.abspath(dst))
        base = os.path.basename(dst)
        with tempfile.NamedTemporaryFile(delete=False, dir=folder, prefix=f".{base}.",
                                         suffix=".tmp") as fh:
            tmp = fh.name
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        _set_mode(tmp, dst, mode_from)
        os.replace(tmp, dst)
        tmp = None
    except OutputError:
        raise
    except Exception as e:  # noqa: BLE001 - every failure becomes one OutputError
        raise OutputError(f"{shown}: {_one_line(e)}") from e
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def check_destination(dst: str) -> None:
    """Fail now, in one line, where `dst` cannot be written (a folder, its folder missing
    or not writable): callers check before a long calculation, not after it."""
    dst = os.fspath(dst)
    if not dst:
        raise OutputError("no output file named (an empty path)")
    if os.path.isdir(dst):
        raise OutputError(f"{dst}: is a directory, not a file")
    if os.path.lexists(dst) and not os.path.isfile(dst):
        # a device, pipe or socket (or a dangling link): the write replaces the file by
        # renaming, which would put a workbook in place of /dev/null
        raise OutputError(f"{dst}: not a regular file; name a file to write")
    folder = os.path.dirname(os.path.abspath(dst))
    if not os.path.isdir(folder):
        raise OutputError(f"{dst}: no such folder {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{dst}: cannot write in {folder} (permission denied)")


def _set_mode(tmp: str, dst: str, mode_from: str | None) -> None:
    """NamedTemporaryFile creates 0600 files: give the result the existing destination's
    permissions, else the source's, else the usual 0644."""
    mode = 0o644
    for p in (dst, mode_from):
        if p:
            try:
                mode = os.stat(p).st_mode & 0o777
                break
            except OSError:
                pass
    with contextlib.suppress(OSError):
        os.chmod(tmp, mode)


def _one_line(e: BaseException) -> str:
    msg = str(e).strip() or type(e).__name__
    return " ".join(msg.split())


# ---------------------------------------------------------------------------------------
# Value encoding
# ---------------------------------------------------------------------------------------

def encode_number(x: float) -> str | None:
    """Shortest text that float() turns back into x ('3', '0.1', '1E-10'); None for NaN/inf."""
    if not math.isfinite(x):
        return None
    if x == 0:
        return "0"
    if x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    s = repr(x)
    if s.endswith(".0"):
        s = s[:-2]
    return s.replace("e", "E")


# characters XML 1.0 cannot hold (plus CR, which parsers normalise away), and a literal
# `_xHHHH_` sequence whose leading underscore must itself be escaped as _x005F_
_ESCAPE_RE = re.compile("_(?=x[0-9A-Fa-f]{4}_)|[\x00-\x08\x0b\x0c\x0d\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _escape_repl(m: re.Match) -> str:
    ch = m.group()
    return "_x005F_" if ch == "_" else f"_x{ord(ch):04X}_"


def encode_text(s: str) -> bytes:
    """Text for an XML text node: &<> escaped, illegal characters as _xHHHH_, UTF-8."""
    if "&" in s:
        s = s.replace("&", "&amp;")
    if "<" in s:
        s = s.replace("<", "&lt;")
    if ">" in s:
        s = s.replace(">", "&gt;")
    s = _ESCAPE_RE.sub(_escape_repl, s)
    return s.encode("utf-8")


def _check_value(v, where: str):
    """Normalise a cell value (ints -> float) or raise TypeError for anything unsupported."""
    tv = type(v)
    if tv is float or tv is str or tv is bool:
        return v
    if v is None or isinstance(v, (bool, str, XLError)):
        return v
    if isinstance(v, (int, float)):         # int, and float subclasses such as numpy.float64
        return float(v)                     # (whose repr is not a number: 'np.float64(1.5)')
    if tv is ArrayAnchor:
        return ArrayAnchor(_check_value(v.value, where), v.ref)
    kind = getattr(getattr(v, "dtype", None), "kind", None)
    if kind == "b":  # numpy.bool_
        return bool(v)
    try:  # numpy scalars and other real numbers
        import numbers
        if isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral):
            return float(v)
        if isinstance(v, numbers.Integral):
            return float(int(v))
    except Exception:  # noqa: BLE001
        pass
    raise TypeError(f"unsupported value type {type(v).__name__} for {where}")


def _encode_value(v) -> tuple[bytes | None, bytes | None]:
    """(t attribute value or None, <v> text) for a non-string, non-blank value."""
    if isinstance(v, bool):
        return b"b", b"1" if v else b"0"
    if isinstance(v, float):
        s = encode_number(v)
        if s is None:
            return b"e", b"#NUM!"
        return None, s.encode("ascii")
    if isinstance(v, XLError):
        return b"e", encode_text(v.code)
    raise TypeError(f"unsupported value type {type(v).__name__}")


# ---------------------------------------------------------------------------------------
# Byte-level tokenizer over sheet XML
# ---------------------------------------------------------------------------------------

_ROW_TAG = re.compile(rb"<((?:[\w.\-]+:)?)row(\s[^>]*?)?(/?)>")
_CHILD_TAG = re.compile(rb"<((?:[\w.\-]+:)?)(f|v|is|extLst)(\s[^>]*?)?(/?)>")
_ROW_R = re.compile(rb"\sr\s*=\s*[\"'](\d+)[\"']")
_CELL_R = re.compile(rb"\sr\s*=\s*[\"']\$?([A-Za-z]{1,3})\$?(\d+)[\"']")
_T_ATTR = re.compile(rb"\s+t\s*=\s*(?:\"[^\"]*\"|'[^']*')")
_F_REF = re.compile(rb"""(\sref\s*=\s*)(?:"[^"]*"|'[^']*')""")   # an <f>'s ref attribute
# a cell's content in the usual shape: optional <f> (text only) then optional <v>
_SIMPLE_INNER = re.compile(
    rb"(<(?:[\w.\-]+:)?f(?:\s[^>]*)?(?:/>|>[^<]*</(?:[\w.\-]+:)?f>))?"
    rb"(?:<(?:[\w.\-]+:)?v(?:\s[^>]*)?(?:/>|>[^<]*</(?:[\w.\-]+:)?v>))?")
_SPANS = re.compile(rb"(\sspans\s*=\s*[\"'])([^\"']*)([\"'])")
_COL_CACHE: dict[bytes, int] = {}


def _col_num(letters: bytes) -> int:
    n = _COL_CACHE.get(letters)
    if n is None:
        n = _COL_CACHE[letters] = col_to_num(letters.decode("ascii"))
    return n


def _cell_tag_re(local: bytes) -> re.Pattern:
    # a whole cell element (group 4: its content, None when self-closing), or the row's own
    # extLst (after which no cell can follow)
    return re.compile(rb"<((?:[\w.\-]+:)?)(" + local
                      + rb"|extLst)(\s[^>]*?)?(?:/>|>(.*?)</\1\2>)", re.S)


_CELL_TAGS = {b"c": _cell_tag_re(b"c"), b"cell": _cell_tag_re(b"cell")}


class _Patcher:
    """Patches the rows of one <sheetData> (worksheet `c` cells or external-link `cell`s)."""

    def __init__(self, local: bytes, worksheet: bool):
        self.local = local
        self.cell_re = _CELL_TAGS[local]
        self.worksheet = worksheet
        # bounding box of the cells this patcher inserted
        self.min_r = self.min_c = 1 << 30
        self.max_r = self.max_c = 0
        self.had_cells = False

    # -- value payloads ------------------------------------------------------------------

    def _payload(self, v, pfx: bytes, has_formula: bool) -> tuple[bytes | None, bytes]:
        """(t attribute value, element bytes) for the value; element bytes may be b''."""
        if type(v) is float and v.is_integer() and -1e16 < v < 1e16:  # the hot path
            return None, b"<" + pfx + b"v>%d</" % v + pfx + b"v>"
        if v is None:
            if has_formula:
                return b"str", b"<" + pfx + b"v></" + pfx + b"v>"
            return None, b""
        if isinstance(v, str):
            if has_formula or not self.worksheet:
                return b"str", b"<" + pfx + b"v>" + encode_text(v) + b"</" + pfx + b"v>"
            space = b' xml:space="preserve"' if v != v.strip() else b""
            return b"inlineStr", (b"<" + pfx + b"is><" + pfx + b"t" + space + b">" + encode_text(v)
                                  + b"</" + pfx + b"t></" + pfx + b"is>")
        t, text = _encode_value(v)
        return t, b"<" + pfx + b"v>" + text + b"</" + pfx + b"v>"

    def _new_cell(self, pfx: bytes, r: int, c: int, v) -> bytes:
        t, body = self._payload(v, pfx, False)
        if not body:
            return b""
        if r < self.min_r:
            self.min_r = r
        if r > self.max_r:
            self.max_r = r
        if c < self.min_c:
            self.min_c = c
        if c > self.max_c:
            self.max_c = c
        ref = num_to_col(c).encode("ascii") + str(r).encode("ascii")
        tattr = b' t="' + t + b'"' if t else b""
        return (b"<" + pfx + self.local + b' r="' + ref + b'"' + tattr + b">" + body
                + b"</" + pfx + self.local + b">")

    def _patch_cell(self, data: bytes, pfx: bytes, attrs: bytes, inner_start: int,
                    inner_end: int, v) -> bytes:
        """A new cell element for an existing one: old <v>/<is> and t= removed, the new value
        written after <f> and before <extLst>."""
        if b"t" in attrs:
            attrs = _T_ATTR.sub(b"", attrs)
        keep: list[bytes] = []
        tail = b""
        has_formula = False
        fm = _SIMPLE_INNER.fullmatch(data, inner_start, inner_end) if inner_start >= 0 else None
        if fm is not None:  # the common shapes: [<f>..</f>][<v>..</v>]
            f = fm.group(1)
            if f:
                has_formula = True
                keep.append(f)
        elif inner_start >= 0:
            pos = inner_start
            while pos < inner_end:
                m = _CHILD_TAG.search(data, pos, inner_end)
                if m is None:
                    keep.append(data[pos:inner_end])
                    break
                if m.start() > pos:
                    keep.append(data[pos:m.start()])
                name = m.group(2)
                if name == b"extLst":
                    tail = data[m.start():inner_end]
                    break
                if m.group(4):
                    end = m.end()
                else:
                    close = b"</" + m.group(1) + name + b">"
                    ci = data.find(close, m.end(), inner_end)
                    if ci < 0:
                        raise ValueError("malformed cell XML: unclosed <" + name.decode() + ">")
                    end = ci + len(close)
                if name == b"f":
                    has_formula = True
                    keep.append(data[m.start():end])
                pos = end
        if type(v) is ArrayAnchor:
            keep = [_F_REF.sub(b'\\1"' + v.ref.encode("ascii") + b'"', k, 1)
                    if k.lstrip().startswith(b"<" + pfx + b"f") else k for k in keep]
            v = v.value
        t, body = self._payload(v, pfx, has_formula)
        tattr = b' t="' + t + b'"' if t else b""
        content = b"".join(keep).strip() if not has_formula else b"".join(keep)
        if not content and not body and not tail:
            return b"<" + pfx + self.local + attrs + tattr + b"/>"
        return (b"<" + pfx + self.local + attrs + tattr + b">" + content + body + tail
                + b"</" + pfx + self.local + b">")

    # -- rows ----------------------------------------------------------------------------

    def _new_row(self, pfx: bytes, r: int, cols: list[tuple[int, object]]) -> bytes:
        cells = b"".join(self._new_cell(pfx, r, c, v) for c, v in cols)
        if not cells:
            return b""
        return b"<" + pfx + b'row r="' + str(r).encode() + b'">' + cells + b"</" + pfx + b"row>"

    def _patch_row(self, data: bytes, m: re.Match, row_end: int, inner_end: int, r: int,
                   cols: list[tuple[int, object]]) -> bytes:
        pfx = m.group(1)
        attrs = m.group(2) or b""
        self_closing = bool(m.group(3))
        out: list[bytes] = []
        ti, nt = 0, len(cols)
        inserted: list[int] = []
        cell_pfx = pfx
        if not self_closing:
            copied, pos = m.start(), m.end()
            prev_c = 0
            for cm in self.cell_re.finditer(data, pos, inner_end):
                if ti >= nt:
                    break
                if cm.group(2) == b"extLst":
                    break
                self.had_cells = True
                cell_pfx = cm.group(1)
                cattrs = cm.group(3) or b""
                rm = _CELL_R.search(cattrs)
                c = _col_num(rm.group(1).upper()) if rm else prev_c + 1
                cstart = cm.start()
                if cols[ti][0] < c:
                    if copied < cstart:
                        out.append(data[copied:cstart])
                        copied = cstart
                    while ti < nt and cols[ti][0] < c:
                        cc, v = cols[ti]
                        cell = self._new_cell(cell_pfx, r, cc, v)
                        if cell:
                            out.append(cell)
                            inserted.append(cc)
                        ti += 1
                if ti < nt and cols[ti][0] == c:
                    out.append(data[copied:cstart])
                    if cm.group(4) is None:
                        istart = iend = -1
                    else:
                        istart, iend = cm.start(4), cm.end(4)
                    out.append(self._patch_cell(data, cell_pfx, cattrs, istart, iend, cols[ti][1]))
                    copied = cm.end()
                    ti += 1
                prev_c = c
                pos = cm.end()
            # cells left over go after the last cell (before the row's extLst, if any)
            if ti < nt:
                out.append(data[copied:pos])
                copied = pos
                for cc, v in cols[ti:]:
                    cell = self._new_cell(cell_pfx, r, cc, v)
                    if cell:
                        out.append(cell)
                        inserted.append(cc)
            out.append(data[copied:row_end])
            body = b"".join(out)
            if inserted:
                head = data[m.start():m.end()]
                new_head = _widen_spans(head, inserted)
                if new_head is not head:
                    body = new_head + body[len(head):]
            return body
        # <row .../> with no cells: add the cells and close the row
        cells = b"".join(self._new_cell(pfx, r, c, v) for c, v in cols)
        if not cells:
            return data[m.start():row_end]
        inserted = [c for c, v in cols if v is not None]
        head = b"<" + pfx + b"row" + attrs + b">"
        head = _widen_spans(head, inserted)
        return head + cells + b"</" + pfx + b"row>"

    def patch(self, data: bytes, start: int, end: int, pfx: bytes,
              rows: dict[int, list[tuple[int, object]]]) -> list[bytes]:
        """Chunks replacing data[start:end] (the content of a sheetData element)."""
        out: list[bytes] = []
        trows = sorted(rows)
        ti, nt = 0, len(trows)
        pos = copied = start
        prev_r = 0
        row_pfx = pfx
        while ti < nt:
            m = _ROW_TAG.search(data, pos, end)
            if m is None:
                break
            row_pfx = m.group(1)
            attrs = m.group(2) or b""
            rm = _ROW_R.search(attrs)
            r = int(rm.group(1)) if rm else prev_r + 1
            if m.group(3):
                row_end = inner_end = m.end()
            else:
                close = b"</" + row_pfx + b"row>"
                ci = data.find(close, m.end(), end)
                if ci < 0:
                    raise ValueError(f"malformed sheet XML: unclosed row {r}")
                inner_end = ci
                row_end = ci + len(close)
            if not self.had_cells and not m.group(3):
                if self.cell_re.search(data, m.end(), inner_end) is not None:
                    self.had_cells = True
            while ti < nt and trows[ti] < r:
                tr = trows[ti]
                if copied < m.start():
                    out.append(data[copied:m.start()])
                    copied = m.start()
                out.append(self._new_row(row_pfx, tr, rows[tr]))
                ti += 1
            if ti < nt and trows[ti] == r:
                out.append(data[copied:m.start()])
                out.append(self._patch_row(data, m, row_end, inner_end, r, rows[r]))
                copied = row_end
                ti += 1
            prev_r = r
            pos = row_end
        if ti < nt:
            out.append(data[copied:pos])
            copied = pos
            for tr in trows[ti:]:
                out.append(self._new_row(row_pfx, tr, rows[tr]))
        out.append(data[copied:end])
        return out


def _widen_spans(head: bytes, cols: list[int]) -> bytes:
    """Extend a row's spans="a:b" optimisation hint to cover inserted columns."""
    if not cols:
        return head
    m = _SPANS.search(head)
    if m is None:
        return head
    try:
        bounds = [tuple(int(x) for x in part.split(b":")) for part in m.group(2).split()]
        lo = min(b[0] for b in bounds)
        hi = max(b[-1] for b in bounds)
    except (ValueError, IndexError):
        return head
    if all(any(b[0] <= c <= b[-1] for b in bounds) for c in cols):
        return head
    lo, hi = min(lo, min(cols)), max(hi, max(cols))
    return head[:m.start(2)] + f"{lo}:{hi}".encode() + head[m.end(2):]


def _group_rows(targets: Values, where: str) -> dict[int, list[tuple[int, object]]]:
    rows: dict[int, list[tuple[int, object]]] = {}
    if isinstance(targets, CellValues):
        targets = _as_dict(targets)
    for key, v in targets.items():
        try:
            r, c = key
            ok = isinstance(r, int) and isinstance(c, int) and 1 <= r <= MAX_ROW and 1 <= c <= MAX_COL
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"bad cell position {key!r} in {where}")
        v = _check_value(v, f"{where}!{num_to_col(c)}{r}")
        rows.setdefault(r, []).append((c, v))
    for cols in rows.values():
        cols.sort(key=lambda cv: cv[0])
    return rows


def _to_utf8(data: bytes) -> bytes:
    """Sheet parts are UTF-8 in practice; UTF-16 ones are converted (declaration included)."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = data.decode("utf-16")
        text = re.sub(r"""(<\?xml[^>]*encoding\s*=\s*["'])[^"']*(["'])""", r"\1UTF-8\2", text,
                      count=1)
        return text.encode("utf-8")
    return data


_SHEETDATA_TAG = re.compile(rb"<((?:[\w.\-]+:)?)sheetData(\s[^>]*?)?(/?)>")
_DIMENSION = re.compile(rb"<(?:[\w.\-]+:)?dimension\s[^>]*?ref\s*=\s*[\"']([^\"']*)[\"']")


def patch_sheet_xml(data: bytes, targets: Values, where: str = "sheet") -> bytes:
    """Worksheet part bytes with the cached values of `targets` replaced/inserted."""
    out = io.BytesIO()
    patch_sheet_stream(io.BytesIO(data), out, targets, where)
    return out.getvalue()


def _general_patch(data: bytes, targets: Values, where: str) -> bytes:
    """The general (whole part in memory) patcher: any namespace prefix, rows and cells
    without r attributes, UTF-16 parts."""
    rows = _group_rows(targets, where)
    if not rows:
        return data
    data = _to_utf8(data)
    m = _SHEETDATA_TAG.search(data)
    if m is None:
        raise ValueError(f"{where}: the sheet part has no <sheetData>")
    pfx = m.group(1)
    p = _Patcher(b"c", worksheet=True)
    if m.group(3):  # <sheetData/>
        body = p.patch(data, m.end(), m.end(), pfx, rows)
        chunks = [data[:m.start()], b"<" + pfx + b"sheetData" + (m.group(2) or b"") + b">",
                  *body, b"</" + pfx + b"sheetData>", data[m.end():]]
    else:
        close = b"</" + pfx + b"sheetData>"
        ci = data.find(close, m.end())
        if ci < 0:
            raise ValueError(f"{where}: unclosed <sheetData>")
        body = p.patch(data, m.end(), ci, pfx, rows)
        chunks = [data[:m.end()], *body, data[ci:]]
    if p.max_r:
        chunks[0] = _update_dimension(chunks[0], p)
    return b"".join(chunks)


# ---------------------------------------------------------------------------------------
# Streaming sheet patcher (the fast path for the usual sheet XML)
# ---------------------------------------------------------------------------------------

# A cell in the form Excel, openpyxl, XlsxWriter and LibreOffice write: r="A1" first, content
# [<f>][<v>]. One re.split over a chunk of rows cuts out all those cells at C speed; the
# target cells among them are found, encoded and rebuilt in batches (_fast_patch). Target
# cells in any other form (or absent, to be inserted) are left for the general _Patcher, run
# on the same chunk afterwards. Groups: the whole cell; its head (`<c r="A1"` and the other
# attributes) with the column letters and row number in it; `>` and the <f> element (None
# for a self-closing cell). A target cell becomes head + `>`<f> + the new <v> and `</c>`.
# (possessive quantifiers: nothing a quantifier gave up could let the rest match, and not
# keeping backtracking points makes the scan a fifth faster)
_FAST_CELL = re.compile(
    rb'((<c r="([A-Z]{1,3}+)([0-9]{1,7}+)"[^>/]*+)(?:/>|(>'
    rb"(?:<f(?:\s[^>/]*+)?(?:/>|>[^<]*+</f>))?+)"
    rb"(?:<v(?:\s[^>/]*+)?(?:/>|>[^<]*+</v>))?+</c>))")
_FAST_GROUPS = 6                     # re.split items per cell: the text before it + 5 groups
# the same for targets that are all formula cells (CellValues.formula_cells): only cells
# holding an <f> are cut out, with the same groups (the `>`<f> group never None); the
# others stay in the text between, at no cost (wide_10000: 300,000 cells cut -> 180,000)
_FAST_FCELL = re.compile(
    rb'((<c r="([A-Z]{1,3}+)([0-9]{1,7}+)"[^>/]*+)(>'
    rb"<f(?:\s[^>/]*+)?(?:/>|>[^<]*+</f>))"
    rb"(?:<v(?:\s[^>/]*+)?(?:/>|>[^<]*+</v>))?+</c>)")
_ROWS_WITH_R = re.compile(rb'<row r="([0-9]+)"')
_ANY_CELL = re.compile(rb"<(?:[\w.\-]+:)?c[\s/>]")
# bytes of sheet XML read (and patched) at a time, a piece for the pool: 256 KB patches as
# fast as 1 MB and keeps the patching's transient objects ~4x smaller (lookup_10000 saved:
# peak RSS +16 MB -> +3 MB), and smaller pieces balance the pool's workers better
_CHUNK = 1 << 18
# ... and patched here, with no pool: a 256 KB piece's transient objects are ~5 MB, a
# 64 KB one's ~1.3 MB, at the same speed (chain_10000 saved: traced peak 7.95 -> 3.04 MB,
# CPU 0.113 s either way); the pool's pieces stay 256 KB (64 KB: +6% CPU in messages)
_CHUNK_HERE = 1 << 16
_ROWLESS = 1 << 24                   # bytes read with no </row> before the general path
_SPOOL = 1 << 26                     # bytes of patched sheet data kept in memory before spilling


_BCOLS: dict[bytes, int] = column_numbers(as_bytes=True)


def _far_column(letters: bytes) -> int | None:
    """A column beyond ZZ (added to _BCOLS), or None for letters that name none: such a
    cell is no target and is kept as it is."""
    try:
        return far_column(_BCOLS, letters)
    except KeyError:
        return None


class _NotStreamable(Exception):
    """The sheet part needs the general (whole part) patcher."""


class _Restart(Exception):
    """A part turned out unusual after its rows began to go straight into the output:
    write_values writes the whole file again, keeping rows until each part is done."""


# parts whose rows went straight into the output, and files written again (tests)
_DIRECT_STATS = {"direct": 0, "restarts": 0}


class _Irregular(Exception):
    """A worker's piece holds a cell of a row after the piece's rows (rows out of order, or
    a cell whose r= names another row): only the serial path patches it exactly."""


def _check_targets(targets: Values, where: str) -> "list[int] | array":
    """Validate the cell positions; the row of every target, sorted (one entry per target).
    For a CellValues, an int32 array: half a list's memory, at the write's peak."""
    if isinstance(targets, CellValues):         # trusted positions
        rows = array("i", map(itemgetter(0), targets.positions))
        if any(map(gt, rows, islice(rows, 1, None))):      # seldom: not in row order
            rows = array("i", sorted(rows))
        return rows
    keys = list(targets)
    # the usual case checked at C speed: (int, int) keys within the sheet
    if set(map(type, keys)) <= {tuple} and set(map(len, keys)) <= {2}:
        rows = list(map(itemgetter(0), keys))
        cols = list(map(itemgetter(1), keys))
        if set(map(type, rows)) <= {int} and set(map(type, cols)) <= {int}:
            rows.sort()
            if not keys or (1 <= rows[0] and rows[-1] <= MAX_ROW
                            and 1 <= min(cols) and max(cols) <= MAX_COL):
                return rows
    rows = []
    for key in keys:
        try:
            r, c = key
            ok = (isinstance(r, int) and isinstance(c, int)
                  and 1 <= r <= MAX_ROW and 1 <= c <= MAX_COL)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"bad cell position {key!r} in {where}")
        rows.append(r)
    rows.sort()
    return rows


# the json module's C encoder prints a list of floats with float.__repr__ in one call
_FLOAT_LIST = json.JSONEncoder(separators=(",", ":"))
# orjson, where installed, prints them ~10x faster (100,000 floats: 5.7 ms against 54), with
# the same shortest round-trip digits; its text differs from repr's only for values below
# 1e-4 (0.00001 for 1e-05, 2.5e-7 for 2.5e-07): those tokens, rare, are printed by repr
try:
    from orjson import dumps as _orjson_dumps
except ImportError:                              # not installed: json's encoder serves
    _orjson_dumps = None
_NOT_REPR = re.compile(r"(?<=[\[,])(?:-?0\.0000[0-9]*|-?[0-9.]+e-[0-9]+)")     # whole tokens


def _repr_token(m: "re.Match") -> str:
    return repr(float(m.group()))


def _float_list(vals: list[float]) -> str:
    """'[1.5,2.0,1e-10]': the floats as repr prints them, in one C call; NaN and infinity
    print as 'NaN', 'Infinity' or 'null' (the caller looks for N, I and n)."""
    if _orjson_dumps is None:
        return _FLOAT_LIST.encode(vals)
    s = _orjson_dumps(vals).decode("ascii")
    if "0.0000" in s or "e-" in s:
        s = _NOT_REPR.sub(_repr_token, s)
    return s


def _float_texts(vals: list[float], wrap: bool = False) -> list[bytes] | None:
    """encode_number() of many floats at once, or None when one of them needs the per-value
    path (NaN, inf, -0.0). The floats are printed in one C call (repr: the shortest
    round-trip text) and fixed up with C-level replaces instead of a Python call per value:
    an integral value below 1e16 prints as 'N.0' and loses the '.0'; 'e' becomes 'E'. With
    `wrap`, each text comes as the end of a cell, b'<v>text</v></c>' (_fast_patch joins
    these as they are: wrapping them all in one replace costs far less than per cell)."""
    s = _float_list(vals)                           # '[1.5,2.0,1e-10]'
    if ("N" in s or "I" in s or "n" in s            # NaN, Infinity (json) or null (orjson)
            or "-0.0," in s or "-0.0]" in s):       # -0.0
        return None
    s = "," + s[1:-1] + ","
    s = s.replace(".0,", ",")
    if "e" in s:
        s = s.replace("e", "E")
    s = s[1:-1]
    if wrap:
        s = "<v>" + s.replace(",", "</v></c>,<v>") + "</v></c>"
    return s.encode("ascii").split(b",")


_STR_MID = b' t="str"'                # before `>` and the <f> of a formula with a text result


def _string_texts(vals: list[str]) -> list[bytes] | None:
    """b'<v>' + encode_text(v) + b'</v></c>' of many strings at once: joined by newlines,
    escaped and wrapped by C-level replaces, then split (a newline is kept as it is by
    encode_text and ends no escape sequence); None when a string holds a newline itself."""
    joined = "\n".join(vals)
    if joined.count("\n") != len(vals) - 1:
        return None
    return (b"<v>" + encode_text(joined).replace(b"\n", b"</v></c>\n<v>")
            + b"</v></c>").split(b"\n")


def _fast_patch(piece: bytes, left: Values, where: str, patcher: _Patcher,
                bound: int | None = None, cut=_FAST_CELL) -> bytes:
    """The fast path over a chunk of whole rows: cells in the usual form that are targets get
    their new value (popped from `left`); every other byte is kept as it is. With `bound`
    (a worker's piece, `left` holding only the rows up to it), a cell of a later row raises
    _Irregular: the serial path would have patched it from its `left`. `cut`: the pattern
    of the cells to cut out, _FAST_CELL or (formula cells only) _FAST_FCELL; a target it
    does not cut out stays in `left` for the general patcher."""
    parts = cut.split(piece)
    k = _FAST_GROUPS
    n = len(parts) // k
    # every row tag is outside the usual-form cells: check the rows on the text between them
    # (a few % of the piece) instead of the whole piece
    gaps = parts[0::k]
    between = b"".join(gaps) if n else piece
    if between.count(b"<row") != between.count(b'<row r="') or b":row" in between:
        raise _NotStreamable                 # rows without r= or with a prefix
    if not n:
        return piece
    cells, heads, letters, rownums, mids = (parts[i::k] for i in range(1, k))
    rnums = map(int, rownums)
    if bound is not None:
        rnums = list(rnums)
        if max(rnums) > bound:
            raise _Irregular
    # look every cell up at C speed: a cell that is no target pops as itself
    cols = list(map(_BCOLS.get, letters))
    if None in cols:                         # AAA..XFD (see refs.far_column), or invalid
        cols = [c if c is not None else _far_column(letters[i])
                for i, c in enumerate(cols)]
    got = list(map(left.pop, zip(rnums, cols), cells))
    hit = list(map(is_not, got, cells))
    nhit = hit.count(True)
    if not nhit:
        return piece
    # finite floats (the usual value) are encoded in bulk, as whole ends of cells
    # ('<v>1.5</v></c>'), and their cells rebuilt as head + `>`<f> + that end by one join
    # each (less than half the cost of formatting each cell); a cell that is no target holds
    # bytes in `got`, so the float mask selects target cells only
    fmask = list(map(is_, map(type, got), repeat(float)))
    nf = fmask.count(True)
    texts = _float_texts(list(compress(got, fmask)), wrap=True) if nf else None
    if texts is None:                        # NaN, inf or -0.0 among them: one by one
        nf = 0
    if nf:
        if nf == n:                          # every cell of the piece: no selection
            sel = heads, mids
        else:
            sel = list(compress(heads, fmask)), list(compress(mids, fmask))
        sh, sm = sel
        if b"t" in b"".join(sh):             # a t="..." attribute goes with the old value
            sh = [_T_ATTR.sub(b"", h) if b"t" in h else h for h in sh]
        if None in sm:                       # a self-closing cell: no <f>
            sm = [b">" if m is None else m for m in sm]
        new = map(b"".join, zip(sh, sm, texts))
        if nf == n:
            cells = list(new)
        else:
            for i, cell in zip(compress(count(), fmask), new):
                cells[i] = cell
    if nf < nhit:                            # strings, booleans, errors, blanks, non-finite
        # (index lists picked and cells rebuilt by map: no Python step per cell)
        others = list(compress(count(), map(gt, hit, fmask) if nf else hit))
        # formula cells (`>` then <f>) with a text result: t="str", the texts escaped in
        # bulk too (a lookup sheet's names cost more than its floats one by one)
        strs = [i for i, v, m in zip(others, map(got.__getitem__, others),
                                     map(mids.__getitem__, others))
                if type(v) is str and m is not None and len(m) > 1]
        stexts = _string_texts(list(map(got.__getitem__, strs))) if strs else None
        if stexts is not None:
            sh = list(map(heads.__getitem__, strs))
            if b"t" in b"".join(sh):
                sh = [_T_ATTR.sub(b"", h) if b"t" in h else h for h in sh]
            new = map(b"".join, zip(sh, repeat(_STR_MID), map(mids.__getitem__, strs),
                                    stexts))
            any(map(cells.__setitem__, strs, new))          # (None each: runs them all)
            if len(strs) == len(others):
                others = []
            else:
                done = set(strs)
                others = [i for i in others if i not in done]
        for i in others:
            cells[i] = _other_cell(got[i], heads[i], letters[i] + rownums[i], mids[i], where,
                                   patcher)
    out = [b""] * (2 * n + 1)
    out[0::2] = gaps
    out[1::2] = cells
    return b"".join(out)


def _other_cell(v, head: bytes, ref: bytes, mid: bytes | None, where: str,
                patcher: _Patcher) -> bytes:
    """A usual-form target cell rebuilt with a value that is not a finite float: `head`,
    `mid` as _FAST_CELL cut them (`ref` for messages)."""
    v = _check_value(v, f"{where}!{ref.decode()}")
    if b"t" in head:
        head = _T_ATTR.sub(b"", head)
    f = mid[1:] if mid is not None else b""
    if type(v) is float and v - v == 0.0:
        return head + b">" + f + b"<v>" + encode_number(v).encode("ascii") + b"</v></c>"
    t, body = patcher._payload(v, b"", bool(f))
    tattr = b' t="' + t + b'"' if t else b""
    if not f and not body:
        return head + tattr + b"/>"
    return head + tattr + b">" + f + body + b"</c>"


class _Spool:
    """The patched rows of a sheet: a list of pieces (nothing copied) up to `limit` bytes,
    then a temporary file.

    With `deflate`, the pieces are kept compressed (raw deflate, each ending on a byte
    boundary, see _deflate_piece) with their CRC-32 and length combined, for
    _append_deflated: the pool's workers compress their pieces themselves, and a piece
    patched here is compressed here."""

    def __init__(self, limit: int, deflate: bool = False, dst=None):
        self.pieces: list[bytes] = []
        self.size = 0
        self.limit = limit
        self.file = None
        self.deflate = deflate
        self.crc = 0          # (deflate) CRC-32 and length of the uncompressed pieces
        self.n = 0
        self.dst = dst        # the member, when the pieces may go straight into it
        self.direct = False   # they do (see begin_direct)

    def begin_direct(self, head: bytes) -> None:
        """Write the part's head to the member now and every piece as it comes: no
        patched row is kept (only when the head will not change, see _head_stays)."""
        dst = self.dst
        dst.write(head)
        if self.deflate:
            flushed = dst._compressor.flush(zlib.Z_FULL_FLUSH)    # see _append_deflated
            dst._fileobj.write(flushed)
            dst._compress_size += len(flushed)
        self.direct = True
        _DIRECT_STATS["direct"] += 1

    def write(self, b: bytes) -> None:
        if self.deflate:
            self.write_deflated(_deflate_piece(b), zlib.crc32(b), len(b))
        elif self.direct:
            self.dst.write(b)
        else:
            self._put(b)

    def write_deflated(self, z: bytes, crc: int, n: int) -> None:
        """A piece compressed by _deflate_piece: `n` bytes of CRC-32 `crc` uncompressed."""
        if self.direct:
            dst = self.dst
            dst._fileobj.write(z)
            dst._compress_size += len(z)
            dst._crc = crc32_combine(dst._crc, crc, n)
            dst._file_size += n
            return
        self.crc = crc32_combine(self.crc, crc, n)
        self.n += n
        self._put(z)

    def _put(self, b: bytes) -> None:
        if self.file is not None:
            self.file.write(b)
            self.size += len(b)
            return
        self.pieces.append(b)
        self.size += len(b)
        if self.size > self.limit:
            self.file = tempfile.TemporaryFile()
            self.file.writelines(self.pieces)
            self.pieces = []

    def copy_to(self, dst, chunk: int) -> None:
        """Write the pieces to `dst` as they are (deflate: see _append_deflated)."""
        if self.file is None:
            for b in self.pieces:
                dst.write(b)
        else:
            self.file.seek(0)
            shutil.copyfileobj(self.file, dst, chunk)

    def __enter__(self) -> "_Spool":
        return self

    def __exit__(self, *exc) -> None:
        if self.file is not None:
            self.file.close()
        self.pieces = []


# ---------------------------------------------------------------------------------------
# Compressed pieces appended to a zip member
# ---------------------------------------------------------------------------------------
# A deflate stream may be cut into pieces compressed apart (pigz does it): each piece is
# compressed by a fresh compressor and ends with a sync flush (an empty stored block, so it
# ends on a byte boundary and refers to nothing before it). Appended to a member, whose own
# compressor first makes a full flush (nothing after it refers to what came before), they
# decompress to the concatenation. The member's CRC-32 is combined from the pieces' CRCs.

def _deflate_piece(b: bytes) -> bytes:
    """`b` as raw deflate at the writer's level, ending on a byte boundary, not final."""
    c = compressor()
    return c.compress(b) + c.flush(zlib.Z_SYNC_FLUSH)


_CRC_POLY = 0xEDB88320                    # CRC-32 (reflected)


def _gf2_mult(a: int, b: int) -> int:
    """a * b modulo the CRC-32 polynomial (reflected bit order; a != 0)."""
    m, p = 1 << 31, 0
    while True:
        if a & m:
            p ^= b
            if not a & (m - 1):
                return p
        m >>= 1
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1


def _x_powers() -> list[int]:
    """x^(2^k) modulo the polynomial, k = 0..31."""
    out, p = [], 1 << 30                   # x^1
    for _ in range(32):
        out.append(p)
        p = _gf2_mult(p, p)
    return out


_X2N = _x_powers()


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC-32 of A + B from crc1 = crc32(A), crc2 = crc32(B) and len2 = len(B), as
    zlib's crc32_combine (which Python's zlib does not expose): crc1 times x^(8 len2)
    modulo the polynomial, plus crc2."""
    p, n, k = 1 << 31, len2, 3             # p = x^0; x^(8 n) = product of x^(2^k) over n's bits
    while n:
        if n & 1:
            p = _gf2_mult(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return _gf2_mult(p, crc1) ^ crc2 if crc1 else crc2


# the zip member writer's attributes _append_deflated updates (CPython's zipfile, 3.6+)
_MEMBER_ATTRS = ("_compressor", "_crc", "_file_size", "_compress_size", "_fileobj", "_zinfo")


def _can_append_deflated(dst) -> bool:
    """`dst` is a deflated member being written by zipfile (ZipFile.open(..., "w")), whose
    running counters _append_deflated can update; else the pieces go through dst.write."""
    return (type(dst).__name__ == "_ZipWriteFile"
            and all(hasattr(dst, a) for a in _MEMBER_ATTRS)
            and getattr(dst._zinfo, "compress_type", None) == zipfile.ZIP_DEFLATED
            and hasattr(dst._compressor, "flush"))


def _append_deflated(dst, spool: _Spool, chunk: int) -> None:
    """Append a deflate spool's compressed pieces to zip member `dst`: the member's
    compressor is fully flushed first, then its byte count, CRC-32 and length account for
    the pieces as if they had gone through dst.write (which would compress them again)."""
    head = dst._compressor.flush(zlib.Z_FULL_FLUSH)
    dst._fileobj.write(head)
    spool.copy_to(dst._fileobj, chunk)
    dst._compress_size += len(head) + spool.size
    dst._crc = crc32_combine(dst._crc, spool.crc, spool.n)
    dst._file_size += spool.n


def patch_sheet_stream(src, dst, targets: Values, where: str = "sheet",
                       chunk: int = _CHUNK, *, workers: int = 1,
                       pool: "_PiecePool | None" = None, key: str | None = None,
                       direct: bool = False) -> None:
    """Read a worksheet part from file object `src` and write it to `dst` with the cached
    values of `targets` replaced/inserted, a chunk of whole rows at a time (memory stays
    bounded by the chunk size plus the patched sheet data, spooled to disk when large).

    Parts the streaming path does not handle (UTF-16, a namespace prefix on sheetData,
    rows without a plain r="N" attribute) go through the general patcher in memory; `src`
    must then be seekable (a zip member or a file).

    With `workers` >= 2 (or `pool`, shared by the sheets of one write, `key` naming this
    sheet in it) a sheet of at least _PARALLEL_MIN_CELLS targets has its pieces patched by
    forked processes (see _PiecePool); the bytes written decompress to the same.

    With `direct` (write_values), the patched rows go straight into `dst` when the part's
    head cannot change (see _head_stays) instead of being kept until the end; a part found
    unusual after that raises _Restart (write_values writes the file again without it)."""
    own = None
    if pool is None and workers >= 2 and len(targets) >= _PARALLEL_MIN_CELLS and can_fork():
        workers = _free_workers(workers)
        if workers >= 2:
            own = pool = _PiecePool(workers, {})
            key = pool.add("sheet", targets, where)
    try:
        rows = pool.rows(key) if pool is not None else None
        if rows is None:
            rows = _check_targets(targets, where)
        if not rows:
            shutil.copyfileobj(src, dst, chunk)
            return
        parallel = pool is not None and pool.usable(key)
        if not parallel:
            chunk = min(chunk, _CHUNK_HERE)     # pieces patched here: see _CHUNK_HERE
        first = src.read(chunk)
        # the pool's workers compress their pieces too when they can go into `dst` as they
        # are (the parent's compressing was the longest serial part of a parallel write)
        deflate = parallel and _can_append_deflated(dst)
        try:
            with _Spool(_SPOOL, deflate, dst if direct else None) as spool:
                head, tail = _stream_rows(first, src, spool, targets, rows, where, chunk,
                                          pool, key)
                if not spool.direct:
                    dst.write(head)
                    if deflate:
                        _append_deflated(dst, spool, chunk)
                    else:
                        spool.copy_to(dst, chunk)
                dst.write(tail)
                while True:
                    b = src.read(chunk)
                    if not b:
                        break
                    dst.write(b)
        except _NotStreamable:
            if spool.direct:
                raise _Restart(where) from None     # rows are in dst already
            src.seek(0)                  # zip member streams seek by decompressing again
            dst.write(_general_patch(src.read(), targets, where))
    finally:
        if own is not None:
            own.close()


def _patch_piece(piece: bytes, left: Values, rows: list[int], total: int, where: str,
                 p: _Patcher, bound: int | None = None, cut=_FAST_CELL) -> bytes:
    """One piece of whole rows patched: the usual-form target cells by _fast_patch, the
    targets of its rows still in `left` after that (other forms, cells to insert) by the
    general patcher. `total - len(left)` is the number of targets done before (by the
    serial path: popped from `left`)."""
    if not p.had_cells and _ANY_CELL.search(piece):
        p.had_cells = True
    piece = _fast_patch(piece, left, where, p, bound, cut)     # may raise _NotStreamable
    lm = _ROWS_WITH_R.match(piece, max(0, piece.rfind(b'<row r="')))
    last_r = int(lm[1]) if lm is not None else 0
    due = bisect_right(rows, last_r)       # number of targets in the rows done so far
    if total - len(left) < due:            # target cells the fast path did not patch
        rest = {key: left.pop(key) for key in [key for key in left if key[0] <= last_r]}
        piece = b"".join(p.patch(piece, 0, len(piece), b"", _group_rows(rest, where)))
    return piece


def _stream_rows(buf: bytes, src, spool, targets: Values, rows: list[int], where: str,
                 chunk: int, pool: "_PiecePool | None" = None,
                 key: str | None = None) -> tuple[bytes, bytes]:
    """Patch the <sheetData> rows into `spool`; (head, tail): the part's bytes before the
    rows (dimension updated) and the bytes read after </sheetData>. Raises _NotStreamable
    for unusual parts.

    Each piece is patched with its own rows' targets (_patch_job), by the pool's workers
    in order or here, and `left` stays None: while every piece is regular (no cell of a
    row after the piece's last row), the targets not patched yet are exactly those of the
    rows after `top`, the highest row of the pieces so far, so a piece needs only its own
    rows' targets, the previous `top` and its last row (see _piece_job). From the first
    piece that is not patched that way (irregular, or a worker died), `left` holds the
    targets not patched yet and that piece and every later one are patched with it (the
    general way, here)."""
    if buf[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise _NotStreamable
    if type(targets) is dict and ArrayAnchor in set(map(type, targets.values())):
        raise _NotStreamable        # an array's ref to rewrite: the general path's _Patcher
    m = _SHEETDATA_TAG.search(buf)
    while m is None or m.end() == len(buf):         # the head is longer than one chunk
        more = src.read(chunk)
        if not more:
            break
        buf += more
        m = _SHEETDATA_TAG.search(buf)
    if m is None:
        raise ValueError(f"{where}: the sheet part has no <sheetData>")
    if m.group(1) or m.group(3):            # prefixed, or <sheetData/>: the general path
        raise _NotStreamable
    head = buf[:m.end()]
    buf = buf[m.end():]
    total = len(targets)
    parallel = pool is not None and pool.usable(key)
    # serially too, each piece gets a dict of its own rows' targets only (as a worker
    # does), so no dict of every target is made; the first irregular piece makes `left`
    # the targets not patched yet, and it and every later piece go the general way
    sheet = pool.sheets[key] if parallel else _sheet_entry(targets, rows, where)
    if spool.dst is not None and _head_stays(head, sheet[1], rows, buf):
        spool.begin_direct(head)
    p = _Patcher(b"c", worksheet=True)
    left = None
    top = 0
    pending: deque = deque()                # pieces in flight: (piece, top before it, future)
    eof = False
    while True:
        ci = buf.find(b"</sheetData>")
        if ci >= 0:
            n, tail = ci, buf[ci:]
        elif eof:
            raise ValueError(f"{where}: unclosed <sheetData>")
        else:
            k = buf.rfind(b"</row>")         # a piece ends after a whole row
            n, tail = (k + 6 if k >= 0 else 0), None
            if k < 0 and len(buf) > _ROWLESS:
                # no row ends for megabytes (rows without </row>, padding): searching and
                # growing the buffer again at every chunk would be quadratic
                raise _NotStreamable
        if n:
            piece = buf[:n]
            if left is None:
                lm = _ROWS_WITH_R.match(piece, max(0, piece.rfind(b'<row r="')))
                last_r = int(lm[1]) if lm is not None else 0
                if parallel:
                    pool.put(key, piece, top, last_r, pending, spool.deflate)
                    top = max(top, last_r)
                    # the finished pieces written in order; a bounded number of pieces in
                    # flight, so memory stays bounded
                    left = pool.drain(key, pending, 2 * pool.workers, spool, p)
                else:
                    res = _patch_job(sheet, piece, top, last_r)
                    if res is None:         # irregular (or an error the general way raises)
                        left = _targets_after(sheet, top)
                        spool.write(_patch_piece(piece, left, rows, total, where, p))
                    else:
                        _take_patched(res, p, spool)
                        top = max(top, last_r)
            else:
                spool.write(_patch_piece(piece, left, rows, total, where, p))
        if tail is not None:
            break
        buf = buf[n:]
        more = src.read(chunk)
        if not more:
            eof = True
        buf += more
    if left is None and parallel:
        left = pool.drain(key, pending, 0, spool, p)
    if left is None:                         # every piece done piece by piece
        left = _targets_after(sheet, top)
    if left:                                 # rows after the last row of the sheet
        spool.write(b"".join(p.patch(b"", 0, 0, b"", _group_rows(left, where))))
    if p.max_r:
        new = _update_dimension(head, p)
        if spool.direct and new != head:
            raise _Restart(where)        # (_head_stays rules this out)
        head = new
    return head, tail


def _head_stays(head: bytes, keys: list, rows: list[int], rest: bytes) -> bool:
    """_update_dimension will leave `head` as it is: no <dimension>, or a canonical one
    that covers every target (`keys`, their sorted `rows`), in a part whose first rows
    (`rest`) hold a cell (so the dimension is widened, not replaced)."""
    m = _DIMENSION.search(head)
    if m is None:
        return True
    if not rows:
        return False
    from ..refs import parse_range, range_name
    try:
        a, b, c, d = parse_range(m.group(1).decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return False
    if range_name(a, b, c, d).encode("ascii") != m.group(1):
        return False
    cols = list(map(itemgetter(1), keys))
    if not (a <= rows[0] and rows[-1] <= c and b <= min(cols) and max(cols) <= d):
        return False
    end = rest.find(b"</sheetData>")
    return _ANY_CELL.search(rest, 0, len(rest) if end < 0 else end) is not None


# ---------------------------------------------------------------------------------------
# Patching the pieces of large sheets in forked processes
# ---------------------------------------------------------------------------------------

# A sheet is patched by a pool only from this many target cells (16+ pieces): below
# that, starting the workers (a fork each, ~15 ms for two), moving the pieces and waiting
# for the last piece of each sheet cost about what the pool saves (measured: see _PiecePool).
_PARALLEL_MIN_CELLS = 100_000
# ... counted over the sheets of one write that have at least this many each: they share
# one pool (wide_10000, 3 sheets of 60k targets, 2 workers: 0.61 s -> 0.46 s once the
# workers compressed their pieces too)
_PARALLEL_SHEET_MIN = 30_000
# pool only as many workers as the load leaves cores free (_free_workers; tests turn it off)
_CHECK_LOAD = True
# tests: called in the worker with the piece's number (counted per pool) before it patches
_PIECE_HOOK = None
# what the pools did in this process (tests check that the parallel path really ran)
# ("pieces": by a worker; "local": by the parent while the workers were busy)
# ("deflated": pieces a worker compressed too, see _append_deflated)
PARALLEL_STATS = {"pools": 0, "pieces": 0, "local": 0, "fallbacks": 0, "deflated": 0}
# pool id -> {key: (targets, keys sorted by row, their rows, where)}: set by the parent
# just before it forks the pool's workers, which inherit it; removed when the pool closes
_SHARED: dict[int, dict] = {}
_POOL_IDS = count()


def _free_workers(workers: int) -> int:
    """How many of `workers` can really run at once (scheduler.base.free_workers): on a busy
    machine the pool's extra CPU (moving pieces, fresh processes) makes the write slower
    than the serial one."""
    if not _CHECK_LOAD:
        return workers
    from ..scheduler.base import free_workers
    return free_workers(workers)


def _piece_job(pool_id: int, key: str, index: int, piece: bytes, lo: int, hi: int,
               deflate: bool = False):
    """In a worker: _patch_job on a sheet inherited from the parent; with `deflate`, the
    patched bytes come back compressed, as (_deflate_piece bytes, CRC-32, length)."""
    hook = _PIECE_HOOK
    if hook is not None:
        hook(index)
    sheet = _SHARED.get(pool_id, {}).get(key)
    res = None if sheet is None else _patch_job(sheet, piece, lo, hi)
    if res is not None and deflate:
        out = res[0]
        res = ((_deflate_piece(out), zlib.crc32(out), len(out)),) + res[1:]
    return res


def _sheet_entry(targets: Values, rows: list[int], where: str) -> tuple:
    """(targets, their keys sorted by row, `rows`: their rows sorted, where): what
    _patch_job needs of a sheet whose positions were checked (_check_targets gave rows)."""
    # usually in row order already: then a CellValues' own list of positions serves as it
    # is (no copy of a list per target: the write's peak memory is here)
    keys = targets.positions if isinstance(targets, CellValues) else list(targets)
    if any(map(ne, map(itemgetter(0), keys), rows)):
        keys = sorted(keys, key=itemgetter(0))
    return targets, keys, rows, where


def _targets_after(sheet: tuple, top: int) -> Values:
    """The targets of the rows after `top` (those not patched yet) as a dict."""
    targets, keys, rows, _where = sheet
    ks = keys[bisect_right(rows, top):]
    return dict(zip(ks, _values_of(targets, ks)))


def _take_patched(res: tuple, p: "_Patcher", spool: "_Spool") -> None:
    """A piece _patch_job (or _piece_job) patched: into the spool, its extent into p."""
    out, had_cells, r1, c1, r2, c2 = res
    p.had_cells = p.had_cells or had_cells
    p.min_r, p.min_c = min(p.min_r, r1), min(p.min_c, c1)
    p.max_r, p.max_c = max(p.max_r, r2), max(p.max_c, c2)
    if type(out) is tuple:           # compressed by the worker
        spool.write_deflated(*out)
        PARALLEL_STATS["deflated"] += 1
    else:
        spool.write(out)


def _patch_job(sheet: tuple, piece: bytes, lo: int, hi: int):
    """Patch one piece whose last row is `hi`, the targets of the rows up to `lo` being done:
    (patched bytes, the patcher's extent state), or None: let the serial path patch it."""
    try:
        targets, keys, rows, where = sheet
        bound = max(lo, hi)
        a, b = bisect_right(rows, lo), bisect_right(rows, bound)
        ks = keys[a:b]
        left = dict(zip(ks, _values_of(targets, ks)))
        p = _Patcher(b"c", worksheet=True)
        # `a` targets done before: the serial path's count, so the same cells are left over
        cut = _FAST_FCELL if getattr(targets, "formula_cells", False) else _FAST_CELL
        out = _patch_piece(piece, left, rows, a + len(ks), where, p, bound, cut)
        return out, p.had_cells, p.min_r, p.min_c, p.max_r, p.max_c
    except Exception:  # noqa: BLE001 - irregular piece, bad value, unusual XML: the parent
        return None    # redoes the piece and raises whatever the serial path raises


class _PiecePool:
    """Forked processes patching the pieces of the large sheets of one write.

    The sheets' targets reach the workers through fork (_SHARED), so only a piece's bytes
    and two row numbers travel to a worker and its patched bytes back. The processes start
    on the first piece. A worker that dies breaks the pool: the pieces in flight and
    everything after are patched in the parent (the output is the same).

    Every piece goes to the workers; the parent reads, cuts and sends the pieces and writes
    the results. It used to patch a piece itself while every worker was busy, but three
    processes then share two cores: sending every piece is faster (wb.save with 2 workers,
    best of 6: finance_10000 0.992 -> 0.907 s, wide_10000 0.380 -> 0.358 s,
    hetero_100000 1.051 -> 0.899 s).

    Measured (2 cores shared with other jobs, min of 15 saves): finance_10000 (one sheet of
    600k targets, 26 MB of XML) 1.55 s -> 1.28 s; wide_10000 with the threshold lowered to
    50k (3 sheets of 60k targets) 0.52 s -> 0.46 s in one window, 0.52 s -> 0.63 s in
    another, hence the threshold; with the other core busy the pool is slower (more CPU in
    all), hence _free_workers. Starting two workers costs ~15 ms, stopping them ~15 ms."""

    def __init__(self, workers: int, sheets: dict[str, tuple[Values, str]]):
        self.workers = workers
        self.id = next(_POOL_IDS)
        self.sheets: dict[str, tuple] = {}
        self.executor: ProcessPoolExecutor | None = None
        self.broken = False
        self.count = 0
        for key, (targets, where) in sheets.items():
            self.add(key, targets, where)

    def add(self, key: str, targets: Values, where: str) -> str:
        """Register a sheet (before the first piece); positions are checked here, a sheet
        with bad ones is left to the serial path (which raises its usual error)."""
        try:
            rows = _check_targets(targets, where)
        except ValueError:
            return key
        self.sheets[key] = _sheet_entry(targets, rows, where)
        return key

    def rows(self, key: str | None) -> list[int] | None:
        """The sorted rows of the sheet's targets, when registered (checked already)."""
        got = self.sheets.get(key)
        return got[2] if got is not None else None

    def usable(self, key: str | None) -> bool:
        return not self.broken and key in self.sheets

    def submit(self, key: str, piece: bytes, lo: int, hi: int,
               deflate: bool = False) -> Future | None:
        """Send a piece to a worker; None if the pool cannot take it (then or ever)."""
        if self.broken:
            return None
        try:
            if self.executor is None:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor  # (only when used)

                from ..scheduler import worker  # noqa: F401 - imported once, before the fork
                _SHARED[self.id] = self.sheets
                self.executor = ProcessPoolExecutor(
                    max_workers=self.workers, mp_context=multiprocessing.get_context("fork"),
                    initializer=start_helper)
                PARALLEL_STATS["pools"] += 1
            fut = self.executor.submit(_piece_job, self.id, key, self.count, piece, lo, hi,
                                       deflate)
        except Exception:  # noqa: BLE001 - could not fork, or a worker died already
            self.broken = True
            return None
        self.count += 1
        PARALLEL_STATS["pieces"] += 1
        return fut

    def put(self, key: str, piece: bytes, lo: int, hi: int, pending: deque,
            deflate: bool = False) -> None:
        """Queue a piece (see _patch_job for lo, hi; _piece_job for deflate) to the workers
        (drain bounds how many are in flight); patched here at once if they cannot take
        it."""
        fut = self.submit(key, piece, lo, hi, deflate)
        if fut is None and not self.broken:
            from concurrent.futures import Future
            fut = Future()
            fut.set_result(_patch_job(self.sheets[key], piece, lo, hi))
            PARALLEL_STATS["local"] += 1
        pending.append((piece, lo, fut))

    def drain(self, key: str, pending: deque, keep: int, spool, p: _Patcher) -> Values | None:
        """Write the finished pieces, oldest first (in order: a piece still in flight stops
        the writing), waiting for them while more than `keep` are queued. Returns None, or,
        when a piece was not patched by the pool, the serial path's `left` after patching
        that piece and every later one queued here."""
        while pending:
            piece, lo, fut = pending[0]
            if fut is not None and len(pending) <= keep and not fut.done():
                break
            res = None
            if fut is not None:
                try:
                    res = fut.result()
                except Exception:  # noqa: BLE001 - BrokenProcessPool: a worker died
                    self.broken = True
            if res is None:
                PARALLEL_STATS["fallbacks"] += 1
                targets, _keys, rows, where = self.sheets[key]
                left = _targets_after(self.sheets[key], lo)
                for piece, _lo, _fut in pending:
                    spool.write(_patch_piece(piece, left, rows, len(targets), where, p))
                pending.clear()
                return left
            pending.popleft()
            _take_patched(res, p, spool)
        return None

    def close(self) -> None:
        """Stop the workers (they finish the piece in hand) and forget the shared data."""
        ex, self.executor = self.executor, None
        try:
            if ex is not None:
                ex.shutdown(wait=True, cancel_futures=True)
        finally:
            _SHARED.pop(self.id, None)


def _update_dimension(head: bytes, p: _Patcher) -> bytes:
    m = _DIMENSION.search(head)
    if m is None:
        return head
    from ..refs import parse_range, range_name
    r1, c1, r2, c2 = p.min_r, p.min_c, p.max_r, p.max_c
    if p.had_cells:
        try:
            a, b, c, d = parse_range(m.group(1).decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            return head
        r1, c1, r2, c2 = min(r1, a), min(c1, b), max(r2, c), max(c2, d)
    new = range_name(r1, c1, r2, c2).encode("ascii")
    if new == m.group(1):
        return head
    return head[:m.start(1)] + new + head[m.end(1):]


# ---------------------------------------------------------------------------------------
# External links
# ---------------------------------------------------------------------------------------

_EXT_SHEETDATA = re.compile(rb"<((?:[\w.\-]+:)?)sheetData(\s[^>]*?)?(/?)>")
_SHEETID = re.compile(rb"\ssheetId\s*=\s*[\"'](\d+)[\"']")


def _ext_sheet_names(data: bytes) -> list[str]:
    from lxml import etree
    root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, huge_tree=True))
    names = []
    for el in root.iter("{*}sheetName"):
        names.append(el.get("val") or "")
    return names


def _find_element(data: bytes, local: bytes, start: int = 0, end: int | None = None):
    """(start, content_start, content_end, end, prefix) of the first <local> element, or None.
    content_start == content_end == -1 for a self-closing element."""
    end = len(data) if end is None else end
    m = re.compile(rb"<((?:[\w.\-]+:)?)" + local + rb"(\s[^>]*?)?(/?)>").search(data, start, end)
    if m is None:
        return None
    if m.group(3):
        return m.start(), -1, -1, m.end(), m.group(1)
    close = b"</" + m.group(1) + local + b">"
    ci = data.find(close, m.end(), end)
    if ci < 0:
        raise ValueError(f"unclosed <{local.decode()}>")
    return m.start(), m.end(), ci, ci + len(close), m.group(1)


def patch_external_xml(data: bytes, sheets: dict[str, Values], where: str = "externalLink") -> bytes:
    """An externalLink part with cached values in sheetDataSet replaced/inserted."""
    data = _to_utf8(data)
    names = _ext_sheet_names(data)
    lower = {n.lower(): i for i, n in reversed(list(enumerate(names)))}
    by_id: dict[int, dict[int, list[tuple[int, object]]]] = {}
    for sheet, targets in sheets.items():
        sid = names.index(sheet) if sheet in names else lower.get(sheet.lower())
        if sid is None:
            raise ValueError(f"{where}: no sheet named {sheet!r} in the external book")
        rows = _group_rows(targets, f"[{where}]{sheet}")
        if rows:
            by_id.setdefault(sid, {}).update(rows)
    if not by_id:
        return data
    book = _find_element(data, b"externalBook")
    if book is None or book[1] < 0:
        raise ValueError(f"{where}: not an external workbook link")
    bpfx = book[4]
    dset = _find_element(data, b"sheetDataSet", book[1], book[2])
    if dset is None:
        # sequence is sheetNames, definedNames, sheetDataSet: insert after the last present
        after = book[1]
        for local in (b"sheetNames", b"definedNames"):
            el = _find_element(data, local, book[1], book[2])
            if el is not None:
                after = el[3]
        data = (data[:after] + b"<" + bpfx + b"sheetDataSet></" + bpfx + b"sheetDataSet>"
                + data[after:])
        book = _find_element(data, b"externalBook")
        dset = _find_element(data, b"sheetDataSet", book[1], book[2])
    if dset[1] < 0:  # <sheetDataSet/>
        s, e, dpfx = dset[0], dset[3], dset[4]
        data = data[:s] + b"<" + dpfx + b"sheetDataSet></" + dpfx + b"sheetDataSet>" + data[e:]
        dset = _find_element(data, b"sheetDataSet", s)
    dpfx = dset[4]
    cstart, cend = dset[1], dset[2]
    out = [data[:cstart]]
    pos = cstart
    pending = sorted(by_id)
    pi = 0
    while True:
        m = _EXT_SHEETDATA.search(data, pos, cend)
        if m is None:
            break
        im = _SHEETID.search(m.group(2) or b"")
        sid = int(im.group(1)) if im else -1
        if m.group(3):
            inner_s = inner_e = -1
            el_end = m.end()
        else:
            close = b"</" + m.group(1) + b"sheetData>"
            ci = data.find(close, m.end(), cend)
            if ci < 0:
                raise ValueError(f"{where}: unclosed <sheetData>")
            inner_s, inner_e, el_end = m.end(), ci, ci + len(close)
        while pi < len(pending) and pending[pi] < sid:
            out.append(data[pos:m.start()])
            pos = m.start()
            out.append(_new_ext_sheetdata(dpfx, pending[pi], by_id[pending[pi]]))
            pi += 1
        if pi < len(pending) and pending[pi] == sid:
            out.append(data[pos:m.start()])
            p = _Patcher(b"cell", worksheet=False)
            spfx = m.group(1)
            if inner_s < 0:
                out.append(b"<" + spfx + b"sheetData" + (m.group(2) or b"") + b">")
                out.extend(p.patch(data, m.end(), m.end(), spfx, by_id[sid]))
                out.append(b"</" + spfx + b"sheetData>")
            else:
                out.append(data[m.start():inner_s])
                out.extend(p.patch(data, inner_s, inner_e, spfx, by_id[sid]))
                out.append(data[inner_e:el_end])
            pos = el_end
            pi += 1
        else:
            out.append(data[pos:el_end])
            pos = el_end
    out.append(data[pos:cend])
    for sid in pending[pi:]:
        out.append(_new_ext_sheetdata(dpfx, sid, by_id[sid]))
    out.append(data[cend:])
    return b"".join(out)


def _new_ext_sheetdata(pfx: bytes, sid: int, rows: dict[int, list[tuple[int, object]]]) -> bytes:
    p = _Patcher(b"cell", worksheet=False)
    body = b"".join(p.patch(b"", 0, 0, pfx, rows))
    return (b"<" + pfx + b'sheetData sheetId="' + str(sid).encode() + b'">' + body
            + b"</" + pfx + b"sheetData>")


# ---------------------------------------------------------------------------------------
# Package structure (relationships, content types)
# ---------------------------------------------------------------------------------------

_REL_TAG = re.compile(rb"<((?:[\w.\-]+:)?)Relationship(\s[^>]*?)?(/?)>")
_OVERRIDE_TAG = re.compile(rb"<((?:[\w.\-]+:)?)Override(\s[^>]*?)?(/?)>")


def _attr(attrs: bytes, name: bytes) -> str | None:
    m = re.search(rb"(?:^|\s)" + name + rb"\s*=\s*(?:\"([^\"]*)\"|'([^']*)')", attrs)
    if m is None:
        return None
    return _xml_unescape((m.group(1) if m.group(1) is not None else m.group(2)).decode("utf-8"))


_XML_REF = re.compile(r"&(?:#([0-9]+)|#[xX]([0-9A-Fa-f]+)|(lt|gt|amp|quot|apos));")
_XML_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


def _xml_ref(m) -> str:
    if m.group(3):
        return _XML_ENTITIES[m.group(3)]
    try:
        return chr(int(m.group(1)) if m.group(1) else int(m.group(2), 16))
    except (ValueError, OverflowError):
        return m.group(0)


def _xml_unescape(text: str) -> str:
    """An XML attribute value's text: the five predefined entities and character references
    resolved (xml.sax.saxutils.unescape would do the former, but importing it pulls in
    urllib.request and ssl: ~10 ms of start-up for every save)."""
    return _XML_REF.sub(_xml_ref, text) if "&" in text else text


def _rels_name(part: str) -> str:
    d, f = posixpath.split(part)
    return posixpath.join(d, "_rels", f + ".rels")


def _resolve(base_part: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(base_part), target))


def _iter_rels(data: bytes):
    for m in _REL_TAG.finditer(data):
        attrs = m.group(2) or b""
        yield m, _attr(attrs, b"Id"), _attr(attrs, b"Type") or "", _attr(attrs, b"Target") or "", \
            (_attr(attrs, b"TargetMode") or "")


def _workbook_part(names: dict[str, zipfile.ZipInfo], zin: zipfile.ZipFile) -> str:
    if "_rels/.rels" in names:
        for _m, _id, typ, target, _mode in _iter_rels(zin.read("_rels/.rels")):
            if typ.endswith("/officeDocument"):
                return _resolve("", target)
    return "xl/workbook.xml"


def resolve_sheet_parts(zin: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> zip part, from the workbook part and its relationships."""
    from lxml import etree
    names = {i.filename: i for i in zin.infolist()}
    wb = _workbook_part(names, zin)
    rels = {}
    rels_part = _rels_name(wb)
    if rels_part in names:
        for _m, rid, _typ, target, mode in _iter_rels(zin.read(rels_part)):
            if mode != "External":
                rels[rid] = _resolve(wb, target)
    root = etree.fromstring(zin.read(wb), parser=etree.XMLParser(resolve_entities=False))
    out = {}
    for el in root.iter("{*}sheet"):
        rid = next((v for k, v in el.attrib.items() if k.endswith("}id")), None)
        name = el.get("name")
        if name is not None and rid in rels:
            out[name] = rels[rid]
    return out


def _drop_calc_chain(zin: zipfile.ZipFile, names: dict[str, zipfile.ZipInfo]
                     ) -> tuple[set[str], dict[str, bytes]]:
    """(parts to drop, patched parts) removing xl/calcChain.xml and its references."""
    wb = _workbook_part(names, zin)
    rels_part = _rels_name(wb)
    drop: set[str] = set()
    patched: dict[str, bytes] = {}
    chain = None
    if rels_part in names:
        data = zin.read(rels_part)
        cut = []
        # no relationship can be the chain's when its type's name is nowhere in the part (nor
        # a character reference that could spell it): reading every relationship's
        # attributes costs ~6 ms a save in a workbook of 250 sheets
        rels = _iter_rels(data) if b"calcChain" in data or b"&" in data else ()
        for m, _rid, typ, target, mode in rels:
            if typ.endswith("/calcChain") and mode != "External":
                chain = _resolve(wb, target)
                end = m.end()
                if not m.group(3):
                    close = b"</" + m.group(1) + b"Relationship>"
                    ci = data.find(close, end)
                    end = ci + len(close) if ci >= 0 else end
                cut.append((m.start(), end))
        if cut:
            pieces, pos = [], 0
            for s, e in cut:
                pieces.append(data[pos:s])
                pos = e
            pieces.append(data[pos:])
            patched[rels_part] = b"".join(pieces)
    if chain is None:
        default = posixpath.join(posixpath.dirname(wb), "calcChain.xml")
        if default in names:
            chain = default
    if chain is None:
        return drop, patched
    if chain in names:
        drop.add(chain)
        if _rels_name(chain) in names:
            drop.add(_rels_name(chain))
    ct = "[Content_Types].xml"
    if ct in names:
        data = zin.read(ct)
        pieces, pos = [], 0
        for m in _OVERRIDE_TAG.finditer(data):
            pn = _attr(m.group(2) or b"", b"PartName") or ""
            if pn.lstrip("/").lower() == chain.lower():
                end = m.end()
                if not m.group(3):
                    close = b"</" + m.group(1) + b"Override>"
                    ci = data.find(close, end)
                    end = ci + len(close) if ci >= 0 else end
                pieces.append(data[pos:m.start()])
                pos = end
        if pieces:
            pieces.append(data[pos:])
            patched[ct] = b"".join(pieces)
    return drop, patched


# ---------------------------------------------------------------------------------------
# Public entry point
# ---------------------------------------------------------------------------------------

def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


def write_values(src: str, dst: str, values: dict[str, Values], *,
                 sheet_parts: dict[str, str] | None = None,
                 external_values: dict[str, dict[str, Values]] | None = None,
                 in_place: bool = False, workers: int = 1) -> None:
    """Write a copy of workbook `src` to `dst` with the cached values of the given cells
    replaced; everything else is kept. `values` is {sheet name: {(row, col): value}}
    (1-based); `external_values` is {externalLink part: {sheet name: {(row, col): value}}}.
    With `workers` >= 2, sheets of at least _PARALLEL_SHEET_MIN targets, together at least
    _PARALLEL_MIN_CELLS, are patched and compressed by that many forked processes where
    fork is available (every part decompresses to the same bytes; faster on large sheets).
    Raises OutputError (dst untouched) on any failure."""
    if not workers_ok(workers):
        raise ValueError(f"workers must be a whole number from 1 to {MAX_WORKERS}, "
                         f"not {workers!r}")
    src, dst = os.fspath(src), os.fspath(dst)
    if not in_place and _same_file(src, dst):
        raise OutputError(f"{dst}: refusing to overwrite the source workbook (pass in_place=True)")
    with atomic_output(dst, mode_from=src) as fh:
        try:
            zin = zipfile.ZipFile(src)
        except (OSError, zipfile.BadZipFile) as e:
            raise OutputError(f"{src}: cannot read workbook: {_one_line(e)}") from e
        with zin:
            try:
                _write(zin, fh, values, sheet_parts, external_values or {}, src, workers,
                       direct=True)
            except _Restart:
                _DIRECT_STATS["restarts"] += 1
                fh.seek(0)
                fh.truncate()
                _write(zin, fh, values, sheet_parts, external_values or {}, src, workers)


def _write(zin: zipfile.ZipFile, fh, values, sheet_parts, external_values, src,
           workers: int = 1, direct: bool = False) -> None:
    infos = zin.infolist()
    names = {i.filename: i for i in infos}
    if sheet_parts is None and values:
        sheet_parts = resolve_sheet_parts(zin)
    sheet_parts = {k: v.lstrip("/") for k, v in (sheet_parts or {}).items()}
    lower_parts = {k.lower(): v for k, v in reversed(list(sheet_parts.items()))}

    per_part: dict[str, list[tuple[str, Values]]] = {}
    for sheet, targets in values.items():
        part = sheet_parts.get(sheet) or lower_parts.get(sheet.lower())
        if part is None:
            raise OutputError(f"{src}: no sheet named {sheet!r}")
        if part not in names:
            raise OutputError(f"{src}: sheet part {part} is missing")
        if targets:
            per_part.setdefault(part, []).append((sheet, targets))
    for part in external_values:
        if part.lstrip("/") not in names:
            raise OutputError(f"{src}: external link part {part} is missing")

    drop, patched = _drop_calc_chain(zin, names)
    for part, sheets in external_values.items():
        part = part.lstrip("/")
        patched[part] = patch_external_xml(zin.read(part), sheets, part)
    streamed: dict[str, tuple[Values, str]] = {}
    for part, items in per_part.items():
        targets = items[0][1]
        if len(items) > 1:                  # several sheet names for one part: later wins
            targets = {}
            for sheet, t in items:
                _check_targets(t, sheet)
                targets.update(_as_dict(t))
        streamed[part] = (targets, items[0][0])
    big = {part: ts for part, ts in streamed.items()
           if len(ts[0]) >= min(_PARALLEL_SHEET_MIN, _PARALLEL_MIN_CELLS)}
    if sum(len(ts[0]) for ts in big.values()) < _PARALLEL_MIN_CELLS:
        big = {}
    if workers >= 2 and big:
        workers = _free_workers(workers)
    pool = _PiecePool(workers, big) if workers >= 2 and big and can_fork() else None
    try:
        _write_members(zin, fh, infos, drop, patched, streamed, pool, direct)
    finally:
        if pool is not None:
            pool.close()


_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")      # a zip member's local file header
# flag bits kept from the source: deflate's level hints (0x6); the data descriptor bit (0x8)
# is dropped (the sizes go in the header) and the UTF-8 bit (0x800) is set again by
# ZipInfo.FileHeader from the name
_KEPT_FLAGS = 0x6


def _copy_stored(zin: zipfile.ZipFile, info: zipfile.ZipInfo, zi: zipfile.ZipInfo,
                 zout: zipfile.ZipFile) -> bool:
    """Copy an unchanged member's stored bytes as they are, with no inflate and no deflate
    (a 20 MB data sheet: ~10 ms instead of ~0.2 s), and its CRC-32 and sizes from the
    source's directory: the part is byte for byte the source's. False (nothing written)
    where the member's local header does not match its directory entry: then it is read
    and written again, which checks its CRC-32."""
    if zout._writing or not zout._seekable or info.flag_bits & 0x1:    # 0x1: encrypted
        return False
    fp = zin.fp
    fp.seek(info.header_offset)
    raw = fp.read(_LOCAL_HEADER.size)
    if len(raw) != _LOCAL_HEADER.size:
        return False
    head = _LOCAL_HEADER.unpack(raw)
    if head[0] != b"PK\x03\x04" or head[4] != info.compress_type:
        return False
    name = fp.read(head[10])
    if name.decode("utf-8" if info.flag_bits & 0x800 else "cp437", "replace") \
            != info.orig_filename:
        return False
    start = info.header_offset + _LOCAL_HEADER.size + head[10] + head[11]
    zi.CRC, zi.compress_size, zi.file_size = info.CRC, info.compress_size, info.file_size
    zi.flag_bits = info.flag_bits & _KEPT_FLAGS
    zip64 = max(zi.file_size, zi.compress_size) > zipfile.ZIP64_LIMIT
    out = zout.fp
    out.seek(zout.start_dir)
    zi.header_offset = out.tell()
    zout._writecheck(zi)
    zout._didModify = True
    out.write(zi.FileHeader(zip64))
    fp.seek(start)
    left = zi.compress_size
    while left:
        b = fp.read(min(left, _CHUNK))
        if not b:
            raise zipfile.BadZipFile(f"{info.filename}: truncated member")
        out.write(b)
        left -= len(b)
    zout.filelist.append(zi)
    zout.NameToInfo[zi.filename] = zi
    zout.start_dir = out.tell()
    return True


def _write_members(zin: zipfile.ZipFile, fh, infos, drop, patched, streamed,
                   pool: "_PiecePool | None", direct: bool = False) -> None:
    """Every zip member of the output, in the input's order."""
    with zipfile.ZipFile(fh, "w", allowZip64=True, compresslevel=LEVEL) as zout:
        if zin.comment:
            zout.comment = zin.comment
        for info in infos:
            if info.filename in drop:
                continue
            zi = zipfile.ZipInfo(info.filename, info.date_time)
            zi.compress_type = info.compress_type
            zi.external_attr = info.external_attr
            zi.create_system = info.create_system
            zi.comment = info.comment
            data = patched.get(info.filename)
            if data is not None:
                zout.writestr(zi, data)
                continue
            if info.filename not in streamed and _copy_stored(zin, info, zi, zout):
                continue
            # sheet parts are patched (and a part that cannot be copied as stored is copied)
            # as a stream: memory stays bounded by the chunk size however large the part
            big = info.file_size > 1 << 30          # may outgrow 4 GB once patched
            zi._compresslevel = LEVEL      # (zout.open, unlike writestr, does not set it)
            with open_member(zin, info) as src, zout.open(zi, "w", force_zip64=big) as dst:
                use_fast_compressor(dst, zi)
                if info.filename in streamed:
                    targets, sheet = streamed[info.filename]
                    patch_sheet_stream(src, dst, targets, sheet, _CHUNK, pool=pool,
                                       key=info.filename, direct=direct)
                else:
                    shutil.copyfileobj(src, dst, _CHUNK)
