"""The parts the writer does not change are copied as stored: the same compressed bytes,
CRC-32 and sizes as the source's, however the source's zip was written."""
import io
import struct
import zipfile

import openpyxl
import pytest

import xleval
from xleval.errors import OutputError
from xleval.writer.xlsx import write_values


def _stored(path) -> dict[str, tuple]:
    """Each member's (compress type, CRC-32, sizes, the bytes as stored)."""
    out = {}
    with zipfile.ZipFile(path) as zf:
        for i in zf.infolist():
            zf.fp.seek(i.header_offset)
            head = zf.fp.read(30)
            n, m = struct.unpack("<HH", head[26:30])
            zf.fp.seek(i.header_offset + 30 + n + m)
            out[i.filename] = (i.compress_type, i.CRC, i.compress_size, i.file_size,
                               zf.fp.read(i.compress_size))
    return out


def _book(path):
    """A formula sheet and a larger data sheet without formulas."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Calc"
    data = wb.create_sheet("Data")
    for r in range(1, 2001):
        data.append([r, r * 0.5, f"name {r % 13}"])
    for r in range(1, 11):
        ws.append([f"=SUM(Data!A{r}:B{r})", f'=Data!C{r}&"!"'])
    wb.save(path)
    return str(path)


def test_unchanged_parts_are_the_sources_bytes(tmp_path):
    src = _book(tmp_path / "in.xlsx")
    wb = xleval.load(src)
    wb.calculate()
    out = tmp_path / "out.xlsx"
    wb.save(str(out))
    a, b = _stored(src), _stored(out)
    with zipfile.ZipFile(src) as zs, zipfile.ZipFile(out) as zo:
        same = {n for n in zs.namelist() if zs.read(n) == zo.read(n)}
    assert a.keys() == b.keys()
    assert "xl/worksheets/sheet1.xml" not in same           # Calc: values patched in
    assert {"xl/worksheets/sheet2.xml", "xl/styles.xml", "xl/theme/theme1.xml"} <= same
    for name in same:                   # every part with the same content: the same bytes
        assert a[name] == b[name], name
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None                     # every CRC-32 checks
    got = openpyxl.load_workbook(out, data_only=True)
    assert got["Calc"]["A3"].value == 4.5               # 3 + 1.5, Data!A3:B3
    assert got["Calc"]["B2"].value == "name 2!"
    assert got["Data"]["C13"].value == "name 0"


def _rezip(src, dst, *, stream: bool = False, stored: tuple[str, ...] = ()):
    """`src` zipped again: through a non-seekable stream (each member then has a data
    descriptor: flag 0x8, no sizes in its local header), and/or some members stored."""
    with zipfile.ZipFile(src) as zf:
        members = [(i, zf.read(i)) for i in zf.infolist()]

    class OneWay(io.RawIOBase):                 # write-only, no tell/seek
        def __init__(self):
            self.buf = bytearray()

        def writable(self):
            return True

        def write(self, b):
            self.buf += b
            return len(b)
    sink = OneWay() if stream else open(dst, "wb")
    with zipfile.ZipFile(sink, "w") as zout:
        for info, data in members:
            zi = zipfile.ZipInfo(info.filename, info.date_time)
            zi.compress_type = (zipfile.ZIP_STORED if info.filename in stored
                                else zipfile.ZIP_DEFLATED)
            with zout.open(zi, "w") as fh:
                fh.write(data)
    if stream:
        open(dst, "wb").write(bytes(sink.buf))
    else:
        sink.close()


@pytest.mark.parametrize("stream", [False, True])
def test_descriptors_and_stored_members(tmp_path, stream):
    src = tmp_path / "re.xlsx"
    _rezip(_book(tmp_path / "in.xlsx"), src, stream=stream,
           stored=("xl/worksheets/sheet2.xml", "xl/styles.xml"))
    with zipfile.ZipFile(src) as zf:
        flags = {i.filename: i.flag_bits for i in zf.infolist()}
    assert all(f & 0x8 for f in flags.values()) == stream
    out = tmp_path / "out.xlsx"
    write_values(str(src), str(out), {"Calc": {(1, 1): 42.0}})
    a, b = _stored(src), _stored(out)
    assert a["xl/worksheets/sheet2.xml"] == b["xl/worksheets/sheet2.xml"]
    assert b["xl/styles.xml"][0] == zipfile.ZIP_STORED
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
        assert not any(i.flag_bits & 0x8 for i in zf.infolist())
        assert zf.read("xl/theme/theme1.xml") == zipfile.ZipFile(src).read(
            "xl/theme/theme1.xml")
    assert openpyxl.load_workbook(out, data_only=True)["Calc"]["A1"].value == 42


def test_a_member_whose_header_disagrees_is_read_again(tmp_path):
    """A local header naming another file than the directory does: the part is read
    (zipfile checks it) instead of copied blindly, so the write fails cleanly."""
    src = _book(tmp_path / "in.xlsx")
    raw = bytearray(open(src, "rb").read())
    with zipfile.ZipFile(src) as zf:
        info = zf.getinfo("xl/styles.xml")
    at = info.header_offset + 30
    assert raw[at:at + len("xl/styles.xml")] == b"xl/styles.xml"
    raw[at:at + 2] = b"XL"
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(bytes(raw))
    out = tmp_path / "out.xlsx"
    with pytest.raises(OutputError, match="styles"):
        write_values(str(bad), str(out), {"Calc": {(1, 1): 1.0}})
    assert not out.exists()
