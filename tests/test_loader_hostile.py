"""Hostile and malformed workbooks: the loader must end promptly, in bounded memory, with the
workbook read correctly or a one-line `WorkbookError` (decompression bombs, crafted zip
headers, ranges and rows past the sheet's end, hand-made XML). Each file is built here,
small; the size guards are lowered through their environment variables where a test needs a
bomb."""
from __future__ import annotations

import random
import struct
import subprocess
import sys
import warnings
import zipfile

import pytest

from xleval import errors
from xleval.loader import load_workbook
from xleval.loader import xlsx as X

from test_loader import make_book, one_sheet, write_zip
from test_loader_fast import _fast_and_lxml, _same
from test_loader_fast import one_sheet as fast_sheet


def _raises(exc_type, path, *words):
    with pytest.raises(exc_type) as info:
        load_workbook(str(path))
    msg = str(info.value)
    for w in words:
        assert w in msg, msg
    assert "\n" not in msg
    return msg


# ---------------------------------------------------------------------------------------
# Decompression bombs
# ---------------------------------------------------------------------------------------

def _spaces_sheets(n: int, size: int) -> list:
    pad = " " * size
    return [(f"S{i}", f'<row r="1"><c r="A1"><v>{i}</v></c></row>{pad}', "", "worksheet")
            for i in range(n)]


def test_many_parts_each_below_the_part_test_are_a_bomb_as_a_whole(tmp_path, monkeypatch):
    # each part is below the size from which a part's own ratio is tested; together they
    # inflate far beyond the file (a 13 MB file inflating to 3 GB in 300 parts took minutes)
    monkeypatch.setattr(X, "_RATIO_MIN_SIZE", 1_000_000)
    p = make_book(tmp_path / "many.xlsx", _spaces_sheets(8, 200_000))
    _raises(errors.WorkbookTooLargeError, p, "inflates to", "-fold", "decompression bomb")
    monkeypatch.setenv("XLEVAL_MAX_RATIO", "5000")           # the guard can be relaxed
    assert len(load_workbook(p).sheets) == 8


def test_parts_whose_declared_compressed_sizes_lie(tmp_path, monkeypatch):
    # A part's own ratio test trusts the central directory's compressed size, which a
    # crafted zip can overstate: here each sheet claims the same bytes after it (the other
    # parts and a blob) as its own, "10-fold". The whole file's ratio uses its real size.
    monkeypatch.setattr(X, "_RATIO_MIN_SIZE", 100_000)
    monkeypatch.setenv("XLEVAL_MAX_RATIO", "15")
    p = make_book(tmp_path / "book.xlsx", _spaces_sheets(3, 300_000),
                  extra_parts={"xl/media/blob.bin": random.Random(1).randbytes(32_000)})
    raw = bytearray(open(p, "rb").read())
    i = raw.find(b"PK\x01\x02")
    while i >= 0:                                   # central directory entries
        n = struct.unpack_from("<H", raw, i + 28)[0]
        if raw[i + 46:i + 46 + n].startswith(b"xl/worksheets/"):
            size = struct.unpack_from("<I", raw, i + 24)[0]
            struct.pack_into("<I", raw, i + 20, size // 10)
        i = raw.find(b"PK\x01\x02", i + 4)
    bad = tmp_path / "lying.xlsx"
    bad.write_bytes(bytes(raw))
    with zipfile.ZipFile(bad) as zf:                # zipfile believes it, and reads the parts
        info = zf.getinfo("xl/worksheets/sheet2.xml")
        assert info.file_size / info.compress_size == pytest.approx(10, rel=0.01)
        assert zf.read(info).startswith(b"<?xml")
    _raises(errors.WorkbookTooLargeError, bad, "inflates to", "decompression bomb")


def test_the_size_limit_is_set_by_the_environment(tmp_path, monkeypatch):
    p = one_sheet(tmp_path, "", extra_parts={"xl/media/blob.bin": b"\0" * 300_000})
    assert load_workbook(p).sheets[0].values == {}
    monkeypatch.setenv("XLEVAL_MAX_UNCOMPRESSED_MB", "0.2")
    _raises(errors.WorkbookTooLargeError, p, "size limit of 0.2 MB",
            "XLEVAL_MAX_UNCOMPRESSED_MB")
    assert load_workbook(p, max_uncompressed=10**6).sheets[0].values == {}  # the argument wins
    for bad in ("lots", "0", "-1", "inf"):
        monkeypatch.setenv("XLEVAL_MAX_UNCOMPRESSED_MB", bad)
        with pytest.raises(errors.XlevalError, match="XLEVAL_MAX_UNCOMPRESSED_MB: expected"):
            load_workbook(p)


def test_cli_says_a_bomb_in_one_line(tmp_path):
    p = one_sheet(tmp_path, "", extra_parts={"xl/media/blob.bin": b"\0" * 300_000})
    env = {"XLEVAL_MAX_UNCOMPRESSED_MB": "0.2", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "xleval", "calc", p, "-o",
                           str(tmp_path / "out.xlsx")], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "size limit" in proc.stderr, proc.stderr


# ---------------------------------------------------------------------------------------
# The fast scanner's pieces
# ---------------------------------------------------------------------------------------

class _PieceSizes:
    """Stands in for the scanner's expression, noting the size of each piece it reads."""

    def __init__(self):
        self.sizes = []

    def findall(self, piece, *args):
        self.sizes.append(len(piece))
        return X._FCELL_RE_REAL.findall(piece, *args)

    def __getattr__(self, name):
        return getattr(X._FCELL_RE_REAL, name)


@pytest.fixture
def pieces(monkeypatch):
    spy = _PieceSizes()
    monkeypatch.setattr(X, "_FCELL_RE_REAL", X._FCELL_RE, raising=False)
    monkeypatch.setattr(X, "_FCELL_RE", spy)
    return spy.sizes


def test_rows_without_a_row_end_are_read_in_small_pieces(tmp_path, pieces):
    # empty row tags and no </row>: the scanner cut its pieces after a </row> only, so this
    # part was one findall over the whole of it (a 550 KB file inflating to 100 MB of
    # <row/> took >3 GB and minutes)
    body = '<row r="1"><c r="A1"><v>1</v></c></row>' + "<row/>" * 100_000
    body += '<row r="100002"><c r="B100002"><v>2</v></c></row>'
    p = fast_sheet(tmp_path, body, [])
    fast, slow, used = _fast_and_lxml(p)
    assert used and max(pieces) <= X._MAX_PIECE
    _same(fast, slow)
    assert fast.values == {(1, 1): 1.0, (100002, 2): 2.0}


def test_a_row_longer_than_a_piece_is_cut_between_cells(tmp_path, pieces):
    cells = "".join(f'<c r="{X.cell_name(1, c)}"><v>{c}</v></c>\n' for c in range(1, 16385))
    p = fast_sheet(tmp_path, f'<row r="1">{cells}</row><row r="2"><c r="A2"><f>SUM(1:1)</f>'
                   "<v>1</v></c></row>", [])
    fast, slow, used = _fast_and_lxml(p)
    assert used and len(pieces) > 2 and max(pieces) <= X._MAX_PIECE
    _same(fast, slow)
    assert len(fast.values) == 16384 and fast.values[(1, 16384)] == 16384.0


def test_padding_with_no_place_to_cut_goes_to_the_lxml_loader(tmp_path):
    p = fast_sheet(tmp_path, '<row r="1"><c r="A1"><v>1</v></c></row>' + " " * 400_000
                   + '<row r="2"><c r="A2"><v>2</v></c></row>', [])
    fast, slow, used = _fast_and_lxml(p)
    assert not used
    assert fast.values == slow.values == {(1, 1): 1.0, (2, 1): 2.0}


# ---------------------------------------------------------------------------------------
# Rows, cells and ranges past the sheet's end
# ---------------------------------------------------------------------------------------

def test_rows_after_the_last_row(tmp_path):
    # rows without r= after row 1,048,576 were numbered on: cells outside the sheet
    body = ('<row r="1048576"><c r="A1048576"><v>1</v></c></row>'
            '<row><c><v>7</v></c></row>')
    _raises(errors.CorruptWorkbookError, one_sheet(tmp_path, body), "Sheet1",
            "a row after row 1,048,576")
    body = '<row r="1048576"><c r="A1048576"><v>1</v></c></row><row r="0"/>'
    _raises(errors.CorruptWorkbookError, one_sheet(tmp_path, body, name="b.xlsx"),
            "a row after row 1,048,576")


def test_cells_after_the_last_column(tmp_path):
    body = '<row r="1">' + "<c><v>1</v></c>" * 16385 + "</row>"
    _raises(errors.CorruptWorkbookError, one_sheet(tmp_path, body),
            "row 1 has a cell after column XFD")
    ok = one_sheet(tmp_path, '<row r="1">' + "<c><v>1</v></c>" * 16384 + "</row>",
                   name="ok.xlsx")
    assert max(load_workbook(ok).sheets[0].values) == (1, 16384)


@pytest.mark.parametrize("f", ['<f t="array" ref="A1:XFD1048576">1</f>',
                               '<f t="dataTable" ref="A1:XFD1048576" dt2D="0" dtr="1" r1="B1"/>'])
def test_an_array_range_over_the_whole_sheet(tmp_path, f):
    # loaded as given, the engine then recorded 17 billion covered cells (20 GB in seconds)
    p = one_sheet(tmp_path, f'<row r="1"><c r="A1">{f}<v>1</v></c></row>')
    _raises(errors.WorkbookTooLargeError, p, "A1:XFD1048576", "53,687,091")


def test_array_ranges_are_counted_over_the_workbook(tmp_path):
    # 60 arrays of 1,048,576 cells each: none alone above the limit
    cells = "".join(f'<c r="{X.cell_name(1, c)}"><f t="array" ref="{X.cell_name(1, c)}:'
                    f'{X.cell_name(1048576, c)}">1</f><v>1</v></c>' for c in range(1, 61))
    p = one_sheet(tmp_path, f'<row r="1">{cells}</row>')
    _raises(errors.WorkbookTooLargeError, p, "the array formula in AZ1", "53,687,091")
    # many arrays in a row, each over its column: covered columns are added to, not remade
    cells = "".join(f'<c r="{X.cell_name(1, c)}"><f t="array" ref="{X.cell_name(1, c)}:'
                    f'{X.cell_name(3, c)}">1</f><v>1</v></c>' for c in range(1, 2001))
    rows = "".join(f'<row r="{r}">' + "".join(f'<c r="{X.cell_name(r, c)}"><v>{r}</v></c>'
                                              for c in (1, 2000, 2001)) + "</row>"
                   for r in (2, 3))
    sheet = load_workbook(one_sheet(tmp_path, f'<row r="1">{cells}</row>{rows}',
                                    name="b.xlsx")).sheets[0]
    assert len(sheet.formulas) == 2000 and sheet.values == {(2, 2001): 2.0, (3, 2001): 3.0}
    assert sheet.cached[(3, 2000)] == 3.0


def test_an_array_range_that_does_not_start_at_its_cell(tmp_path):
    # a range held by a formula in another row stayed in play for every row in between
    p = one_sheet(tmp_path, '<row r="1"><c r="A1"><f t="array" ref="B5:C6">1</f><v>1</v></c>'
                  "</row>")
    _raises(errors.CorruptWorkbookError, p, "the array formula in A1 fills B5:C6",
            "does not start at it")


# ---------------------------------------------------------------------------------------
# Zip and XML oddities
# ---------------------------------------------------------------------------------------

def test_a_zip_written_with_backslashes(tmp_path):
    # the parts were found, their relationships not: every sheet loaded empty
    src = one_sheet(tmp_path, '<row r="1"><c r="A1"><v>2</v></c><c r="B1"><f>A1*3</f></c>'
                    "</row>", sst=["<si><t>x</t></si>"])
    with zipfile.ZipFile(src) as zf:
        parts = {n.replace("/", "\\") if n.startswith("xl/") else n: zf.read(n)
                 for n in zf.namelist()}
    sheet = load_workbook(write_zip(tmp_path / "bs.xlsx", parts)).sheets[0]
    assert sheet.values == {(1, 1): 2.0} and sheet.formulas[(1, 2)].text == "A1*3"


@pytest.mark.parametrize("where", ["sheet", "sst"])
def test_external_entities_are_never_read(tmp_path, where):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    dtd = f'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{secret}">]>'
    if where == "sheet":
        p = one_sheet(tmp_path, '<row r="1"><c r="A1" t="inlineStr"><is><t>[&xxe;]</t></is>'
                      "</c></row>")
        part = "xl/worksheets/sheet1.xml"
    else:
        p = one_sheet(tmp_path, '<row r="1"><c r="A1" t="s"><v>0</v></c></row>',
                      sst=["<si><t>[&xxe;]</t></si>"])
        part = "xl/sharedStrings.xml"
    with zipfile.ZipFile(p) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    xml = parts[part].decode()
    parts[part] = (xml.replace("?>", "?>" + dtd, 1) if xml.startswith("<?xml")
                   else dtd + xml).encode()
    data = load_workbook(write_zip(tmp_path / "xxe.xlsx", parts))
    assert "TOPSECRET" not in repr(data.sheets[0].values)


def test_two_parts_of_one_name(tmp_path):
    # zip readers disagree on which one counts (the loader read the last; the writer,
    # copying both, printed zipfile's warnings)
    src = one_sheet(tmp_path, '<row r="1"><c r="A1"><v>2</v></c></row>')
    with zipfile.ZipFile(src) as zf:
        parts = [(n, zf.read(n)) for n in zf.namelist()]
    for dup in ("xl/worksheets/sheet1.xml", "XL\\Worksheets\\Sheet1.xml"):
        bad = tmp_path / "dup.xlsx"
        with zipfile.ZipFile(bad, "w") as zf, warnings.catch_warnings():
            warnings.simplefilter("ignore")             # ("Duplicate name")
            for n, data in parts + [(dup, b"<worksheet/>")]:
                zf.writestr(n, data)
        _raises(errors.CorruptWorkbookError, bad, "two parts named", dup)


@pytest.mark.parametrize("second", ["A", "a"])
def test_two_sheets_of_one_name(tmp_path, second):
    p = make_book(tmp_path / "b.xlsx", [("A", '<row r="1"><c r="A1"><v>1</v></c></row>', "",
                                         "worksheet"),
                                        (second, '<row r="1"><c r="A1"><v>2</v></c></row>', "",
                                         "worksheet")])
    _raises(errors.CorruptWorkbookError, p, f"two sheets are named {second!r}")
