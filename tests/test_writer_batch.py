"""The writer's batched fast path (issue 7): float texts printed in bulk, target cells found
and rebuilt a chunk of rows at a time, patched rows kept as a list of pieces. Expected values
are derived independently of xleval: round-trip through float(), hand-written XML, lxml."""
from __future__ import annotations

import io
import math
import random
import struct
import zipfile

import numpy as np
import pytest
from lxml import etree

from xleval.values import DIV0, NA
from xleval.writer import write_values
from xleval.writer import xlsx as W

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
V = f"{{{NS}}}v"


def _random_floats(n: int, seed: int) -> list[float]:
    rnd = random.Random(seed)
    out = []
    while len(out) < n:
        x = struct.unpack("<d", struct.pack("<Q", rnd.getrandbits(64)))[0]
        if math.isfinite(x) and not (x == 0 and math.copysign(1, x) < 0):
            out.append(x)
    return out


@pytest.mark.parametrize("vals", [
    _random_floats(20000, 1),
    [float(random.Random(2).randint(-10**17, 10**17)) for _ in range(5000)],
    [0.0, 1.0, -3.0, 0.1, 1e15, 1e16, -1e16, 123456789012345.0, 9007199254740993.0, 1e22,
     1e-10, 2.5e-300, 5e-324, 1.7976931348623157e308, 0.30000000000000004, 100.0],
])
def test_float_texts_round_trip_and_excel_form(vals):
    texts = W._float_texts(vals)
    assert texts is not None and len(texts) == len(vals)
    for x, t in zip(vals, texts):
        s = t.decode("ascii")
        assert float(s) == x                        # exact: the value read back is the value
        assert "e" not in s and not s.endswith(".0")
        assert len(s) <= len(repr(x))               # no longer than Python's shortest repr
        if x.is_integer() and abs(x) < 1e16:
            assert s == str(int(x))                 # integral values as plain digits


def test_float_texts_wrapped_as_cell_ends():
    vals = _random_floats(500, 4) + [3.0, 1e-10, 1e16]
    assert W._float_texts(vals, wrap=True) == [b"<v>" + t + b"</v></c>"
                                                for t in W._float_texts(vals)]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), -0.0])
def test_float_texts_leave_special_values_to_the_per_value_path(bad):
    assert W._float_texts([1.5, bad, 2.0]) is None


_TRICKY = ["", "plain", "a&b<c>d", "  padded ", "_x0041_ kept", "ends with _", "x0041_ next",
           "tab\there", "\x00\x07\x1f ctl", "\ud800 lone", "\ufffe\uffff", "Zürich 東京 🙂",
           '"quotes" and \'apostrophes\'', "\r cr"]


def test_string_texts_as_encoded_one_by_one():
    assert W._string_texts(_TRICKY) == [b"<v>" + W.encode_text(s) + b"</v></c>"
                                        for s in _TRICKY]
    assert W._string_texts(["two\nlines", "x"]) is None     # newline: one by one


def test_text_results_in_bulk_as_the_general_patcher():
    """Formula cells with text results (some with a stale t= or cached value, a newline in
    one chunk) next to constants and cells without a formula: the fast path writes what the
    general patcher writes."""
    rows = []
    for r in range(1, 41):
        rows.append(f'<row r="{r}"><c r="A{r}" t="s"><v>3</v></c>'
                    f'<c r="B{r}" s="2" t="str"><f>T(A{r})</f><v>old</v></c>'
                    f'<c r="C{r}"><f t="shared" si="0"/></c><c r="D{r}" s="1"/>'
                    f'<c r="E{r}" t="n"><v>5</v></c></row>')
    data = _sheet("".join(rows))
    values = {}
    for r in range(1, 41):
        values[(r, 2)] = _TRICKY[r % len(_TRICKY)]
        values[(r, 3)] = "line\nbreak" if r == 7 else f"n{r} & <{r}>"
        values[(r, 4)] = f" inline {r}"              # no formula: an inline string
        if r % 3 == 0:
            values[(r, 5)] = f"e{r}"
    for chunk in (1 << 20, 300):
        assert _stream(data, values, chunk) == W._general_patch(data, values, "S")
    cells = _cells(_stream(data, values, 1 << 20))
    assert (cells["C7"].get("t"), cells["C7"].findtext(V)) == ("str", "line\nbreak")
    assert (cells["B3"].get("t"), cells["B3"].get("s")) == ("str", "2")
    assert cells["B3"].findtext(V) == _TRICKY[3]
    assert cells["A3"].get("t") == "s" and cells["A3"].findtext(V) == "3"


def _sheet(rows: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{NS}">'
            f'<dimension ref="A1:E60"/><sheetData>{rows}</sheetData></worksheet>').encode()


def _rows(n: int) -> str:
    """Constants in A, formulas without a cached value in B, a stale cached string in C,
    a self-closing styled cell in D, a formula with a stale number in E."""
    out = []
    for r in range(1, n + 1):
        out.append(f'<row r="{r}"><c r="A{r}"><v>{r}.50</v></c>'
                   f'<c r="B{r}"><f>A{r}*2</f></c>'
                   f'<c r="C{r}" s="1" t="str"><f>"x"&amp;A{r}</f><v>old</v></c>'
                   f'<c r="D{r}" s="4"/>'
                   f'<c r="E{r}"><f>A{r}/3</f><v>7</v></c></row>')
    return "".join(out)


def _cells(xml: bytes) -> dict[str, etree._Element]:
    return {c.get("r"): c for c in etree.fromstring(xml).iter(f"{{{NS}}}c")}


def _stream(data: bytes, targets: dict, chunk: int) -> bytes:
    out = io.BytesIO()
    W.patch_sheet_stream(io.BytesIO(data), out, targets, "S", chunk=chunk)
    return out.getvalue()


def test_mixed_value_types_in_one_chunk():
    data = _sheet(_rows(60))
    values = {}
    for r in range(1, 61):
        values[(r, 2)] = [r * 2.0, r / 7, float("nan"), -0.0, True, "s&<", NA, None,
                          r, np.float64(r / 4), np.int64(r)][r % 11]
        values[(r, 3)] = (f"x{r}" if r % 2 else r * 1e-12)
        values[(r, 5)] = r / 3
    values[(2, 4)] = 4.25                       # the self-closing styled cell gets a value
    out = _stream(data, values, 1 << 20)
    assert out == _stream(data, values, 97) == W._general_patch(data, values, "S")
    cells = _cells(out)
    for r in range(1, 61):
        b, c, e = cells[f"B{r}"], cells[f"C{r}"], cells[f"E{r}"]
        assert b.findtext(f"{{{NS}}}f") == f"A{r}*2"             # formulas kept
        v = values[(r, 2)]
        if isinstance(v, bool):
            assert (b.get("t"), b.findtext(V)) == ("b", "1")
        elif isinstance(v, str):
            assert (b.get("t"), b.findtext(V)) == ("str", "s&<")
        elif v is NA:
            assert (b.get("t"), b.findtext(V)) == ("e", "#N/A")
        elif v is None:
            assert (b.get("t"), b.findtext(V)) == ("str", "")
        elif isinstance(v, float) and math.isnan(v):
            assert (b.get("t"), b.findtext(V)) == ("e", "#NUM!")
        else:
            assert b.get("t") is None and float(b.findtext(V)) == float(v)
        if r % 2:
            assert (c.get("t"), c.get("s"), c.findtext(V)) == ("str", "1", f"x{r}")
        else:                                   # t="str" goes with the old string
            assert c.get("t") is None and c.get("s") == "1"
            assert float(c.findtext(V)) == r * 1e-12 and "E" in c.findtext(V)
        assert float(e.findtext(V)) == r / 3
        assert cells[f"A{r}"].findtext(V) == f"{r}.50"           # constants untouched
    assert cells["D2"].get("s") == "4" and cells["D2"].findtext(V) == "4.25"
    assert cells["D3"].get("s") == "4" and cells["D3"].find(V) is None
    assert b"np." not in out and cells["B31"].findtext(V) == "7.75"  # numpy.float64(31/4)
    assert cells["B21"].findtext(V) == "21" and cells["B14"].findtext(V) == "0"  # int, -0.0


def test_every_cell_a_target_and_none_a_target():
    rows = "".join(f'<row r="{r}"><c r="A{r}"><f>1+{r}</f></c><c r="B{r}"><f>2</f></c></row>'
                   for r in range(1, 30))
    data = _sheet(rows)
    every = {(r, c): r + c / 8 for r in range(1, 30) for c in (1, 2)}
    out = _stream(data, every, 120)
    assert out == W._general_patch(data, every, "S")
    cells = _cells(out)
    assert [float(cells[f"A{r}"].findtext(V)) for r in range(1, 30)] == \
        [r + 0.125 for r in range(1, 30)]
    # targets elsewhere only: every existing cell is copied byte for byte
    elsewhere = {(40, 1): 1.0}
    out = _stream(data, elsewhere, 64)
    row40 = b'<row r="40"><c r="A40"><v>1</v></c></row>'
    assert row40 in out and out.replace(row40, b"") == data


def test_patched_rows_spill_to_a_temporary_file(monkeypatch):
    data = _sheet(_rows(60))
    targets = {(r, 2): r * 0.25 for r in range(1, 61)}
    in_memory = _stream(data, targets, 200)
    monkeypatch.setattr(W, "_SPOOL", 300)         # a few pieces, then the file
    assert _stream(data, targets, 200) == in_memory
    spool = W._Spool(10)
    for piece in (b"abc", b"defgh", b"ijklmnop", b"q"):
        spool.write(piece)
    assert spool.file is not None and not spool.pieces
    out = io.BytesIO()
    spool.copy_to(out, 4)
    assert out.getvalue() == b"abcdefghijklmnopq"


def test_row_without_r_in_a_later_chunk_falls_back_whole(tmp_path):
    rows = _rows(30) + '<row><c r="A31"><f>1</f></c></row>'
    data = _sheet(rows)
    targets = {(r, 2): float(r) for r in range(1, 32)} | {(31, 1): 9.0}
    out = _stream(data, targets, 150)
    assert out == W._general_patch(data, targets, "S")
    cells = _cells(out)
    assert cells["A31"].findtext(V) == "9" and cells["B30"].findtext(V) == "30"


def test_written_workbook_values_read_back(tmp_path):
    src, dst = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    rels = ("http://schemas.openxmlformats.org/package/2006/relationships",
            "http://schemas.openxmlformats.org/officeDocument/2006/relationships")
    with zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("_rels/.rels", f'<Relationships xmlns="{rels[0]}"><Relationship Id="rId1" '
                   f'Type="{rels[1]}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", f'<workbook xmlns="{NS}" xmlns:r="{rels[1]}"><sheets>'
                   '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", f'<Relationships xmlns="{rels[0]}">'
                   f'<Relationship Id="rId1" Type="{rels[1]}/worksheet" '
                   'Target="worksheets/sheet1.xml"/></Relationships>')
        z.writestr("xl/worksheets/sheet1.xml", _sheet(_rows(2000)))
    vals = _random_floats(2000, 3)
    targets = {(r, 2): vals[r - 1] for r in range(1, 2001)} | {(5, 5): DIV0}
    write_values(str(src), str(dst), {"S": targets})
    with zipfile.ZipFile(dst) as z:
        cells = _cells(z.read("xl/worksheets/sheet1.xml"))
    assert all(float(cells[f"B{r}"].findtext(V)) == vals[r - 1] for r in range(1, 2001))
    assert (cells["E5"].get("t"), cells["E5"].findtext(V)) == ("e", "#DIV/0!")
    assert cells["E6"].findtext(V) == "7"                 # not a target: as it was
