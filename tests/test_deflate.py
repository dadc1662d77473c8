"""ISA-L's deflate (xleval/deflate.py): the writer's output is the same with it as with zlib,
its reading of the source's parts too, and a damaged stream raises zlib's error."""
import struct
import zipfile
import zlib

import openpyxl
import pytest

import xleval
import xleval.deflate as D
from xleval.errors import CorruptWorkbookError
from xleval.loader import load_workbook

isal = pytest.importorskip("isal", reason="isal not installed: zlib serves alone")


@pytest.fixture
def zlib_only(monkeypatch):
    """Within the test, xleval deflates and inflates with zlib only."""
    def use() -> None:
        monkeypatch.setattr(D, "_impl", zlib)
    return use


def _book(path, rows: int = 3000):
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in range(1, rows + 1):
        ws.append([r * 1.25, f"text {r % 97}", f"=A{r}*2+{r % 7}", f'=B{r}&"!"'])
    wb.save(path)
    return str(path)


def _members(path) -> dict[str, bytes]:
    """Every member of a zip, inflated by the standard library (which checks CRC-32)."""
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def test_written_parts_are_those_zlib_writes(tmp_path, zlib_only):
    src = _book(tmp_path / "in.xlsx")
    wb = xleval.load(src)
    wb.calculate(strategy="serial")
    wb.save(str(tmp_path / "isal.xlsx"))
    zlib_only()
    wb.save(str(tmp_path / "zlib.xlsx"))
    a, b = _members(tmp_path / "isal.xlsx"), _members(tmp_path / "zlib.xlsx")
    assert a == b
    sheet = a["xl/worksheets/sheet1.xml"]
    # B3 = A3*2+3 with A3 = 3.75: the value written is read back by another reader
    assert b'<c r="C3"' in sheet and b"<v>10.5</v>" in sheet
    assert openpyxl.load_workbook(tmp_path / "isal.xlsx", data_only=True).active["C3"].value \
        == 10.5


def test_member_read_alike_in_bounded_pieces(tmp_path):
    src = _book(tmp_path / "in.xlsx", rows=6000)
    with zipfile.ZipFile(src) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
        with D.open_member(zf, info) as fh:
            assert type(fh._decompressor) is D._Inflater
            pieces = []
            while b := fh.read(1000):          # many calls with a length bound
                pieces.append(b)
        assert b"".join(pieces) == zf.read(info)


def _damage_sheet(path, out) -> None:
    """The sheet part's deflate stream made invalid at its first block (type 3, reserved)."""
    raw = bytearray(open(path, "rb").read())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
    assert info.compress_type == zipfile.ZIP_DEFLATED
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26:
                                                   info.header_offset + 30])
    raw[info.header_offset + 30 + name_len + extra_len] = 0b111     # final, type 3
    open(out, "wb").write(bytes(raw))


def test_damaged_stream_raises_zlib_error(tmp_path):
    """As zipfile's own reading does: the loader and the writer turn it into a clear error."""
    bad = tmp_path / "bad.xlsx"
    _damage_sheet(_book(tmp_path / "in.xlsx"), bad)
    with zipfile.ZipFile(bad) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
        with D.open_member(zf, info) as fh, pytest.raises(zlib.error, match="decompressing"):
            fh.read()
    with pytest.raises(CorruptWorkbookError, match="compressed data is invalid"):
        load_workbook(str(bad))


def test_inflater_raises_zlib_error():
    inf = D._Inflater()
    with pytest.raises(zlib.error):
        inf.decompress(b"\x07garbage")
    c = D.compressor()
    data = b"<row/>" * 5000
    z = c.compress(data) + c.flush()
    # zipfile's use: calls bounded in length, the input left over fed again, then flush
    inf = D._Inflater()
    out = inf.decompress(z, 100)
    assert len(out) == 100 and not inf.eof
    out += inf.decompress(inf.unconsumed_tail, 100)
    assert len(out) == 200
    out += inf.flush()
    assert out == data and inf.eof and zlib.decompress(z, -15) == data


def test_without_isal_and_orjson(tmp_path):
    """Where neither is installed (blocked here in a fresh process), zlib and json serve:
    the same parts as with them."""
    import subprocess
    import sys
    src = _book(tmp_path / "in.xlsx")
    code = (
        "import sys\n"
        "if sys.argv[3] == 'block':\n"
        "    sys.modules['isal'] = sys.modules['orjson'] = None   # import fails\n"
        "import zlib, xleval, xleval.deflate as D, xleval.writer.xlsx as W\n"
        "wb = xleval.load(sys.argv[1]); wb.calculate(); wb.save(sys.argv[2])\n"
        "assert (D._impl is zlib) == (sys.argv[3] == 'block')\n"
        "assert (W._orjson_dumps is None) == (sys.argv[3] == 'block')\n")
    for mode in ("block", "use"):
        out = tmp_path / f"{mode}.xlsx"
        p = subprocess.run([sys.executable, "-c", code, src, str(out), mode],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
    assert _members(tmp_path / "block.xlsx") == _members(tmp_path / "use.xlsx")
