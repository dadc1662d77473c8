"""The loader's two XML parsers (loader/xlsx.py's docstring): expat reads the usual parts
(small parts, the shared strings, an ASCII sheet's head and tail) and lxml the rest. Both
must read a workbook alike; a DTD and malformed XML go to lxml (nothing expanded, libxml2's
message); a usual workbook is read without importing lxml at all."""
import io
import pathlib
import subprocess
import sys
import zipfile

import pytest

import xleval.loader.xlsx as X
from xleval.errors import CorruptWorkbookError
from xleval.loader import load_workbook

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = sorted((ROOT / "fixtures" / "workbooks").glob("*.xlsx"))
BOOK = ROOT / "fixtures" / "workbooks" / "quarterly_model.xlsx"   # shared strings, a table
CONFORMANCE = ROOT / ".." / "shared" / "conformance" / "workbooks"


def _snapshot(path) -> tuple:
    """Everything the loader read, as comparable text (or the error it raised)."""
    try:
        d = load_workbook(str(path))
    except Exception as e:  # noqa: BLE001 - the error is part of what is compared
        return ("error", type(e).__name__, str(e))
    sheets = [(s.name, s.kind, s.state, sorted(s.values.items(), key=repr),
               sorted((k, repr(v)) for k, v in s.formulas.items()),
               sorted(s.cached.items(), key=repr), s.max_row, s.max_col,
               sorted(s.hidden_rows), sorted(s.filtered_rows),
               sorted(s.rich.items(), key=repr)) for s in d.sheets]
    return (repr(sheets), repr([(n.name, n.text, n.scope, n.hidden) for n in d.names]),
            repr(d.tables), repr(d.externals), repr(d.pivots), d.date1904, repr(d.calc),
            d.fmt, d.application)


def _lxml_only(monkeypatch) -> None:
    """Send every part to the lxml readers."""
    def check(data):
        try:
            X._check_xml(data)
        except X.etree.LxmlError:
            return False
        return True

    def no_strings(fh):
        raise X._NotForExpat
    monkeypatch.setattr(X, "_expat_tree", lambda data: None)
    monkeypatch.setattr(X, "_expat_ok", check)
    monkeypatch.setattr(X, "_expat_strings", no_strings)


def test_expat_and_lxml_read_workbooks_alike(monkeypatch):
    """The fixtures and, where it is, the conformance corpus (Excel-saved workbooks, also
    malformed and unusual ones): the same cells, names, tables, pivots, links, settings,
    and the same errors with the same messages."""
    paths = FIXTURES + (sorted(CONFORMANCE.glob("**/*.xls*")) if CONFORMANCE.is_dir() else [])
    expat = {p: _snapshot(p) for p in paths}
    _lxml_only(monkeypatch)
    differ = [p.name for p in paths if _snapshot(p) != expat[p]]
    assert not differ
    assert len(paths) >= 3


def _with_part(name: str, data: bytes) -> bytes:
    """BOOK with part `name` replaced."""
    out = io.BytesIO()
    with zipfile.ZipFile(BOOK) as zin, zipfile.ZipFile(out, "w") as zout:
        assert name in zin.namelist()
        for info in zin.infolist():
            zout.writestr(info, data if info.filename == name else zin.read(info))
    return out.getvalue()


def _reader(path):
    z = zipfile.ZipFile(path)
    return X._Reader(str(path), z, 1 << 30)


SST = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
       b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
       b'<si><t>plain</t></si><si><r><t>ru</t></r><r><rPr/><t>ns</t></r>'
       b'<rPh><t>PHONETIC</t></rPh></si><si><t xml:space="preserve"> a&amp;b&#x41; </t></si>'
       b'<si/></sst>')


def test_shared_strings_read_by_expat_as_by_lxml(tmp_path, monkeypatch):
    """Runs joined, phonetic runs left out, entities and character references resolved,
    an empty item empty: expat's reading is lxml's."""
    book = tmp_path / "sst.xlsx"
    book.write_bytes(_with_part("xl/sharedStrings.xml", SST))
    reader = _reader(book)
    got = reader.shared_strings("xl/sharedStrings.xml")
    assert got == ["plain", "runs", " a&bA ", ""]
    assert reader._shared_strings_lxml("xl/sharedStrings.xml") == got


def test_a_dtd_goes_to_lxml_and_expands_nothing(tmp_path):
    """An internal entity declared in a DTD: expat would expand it; the part goes to lxml,
    told to expand no entity."""
    sst = SST.replace(b"<sst ", b'<!DOCTYPE sst [<!ENTITY x "EXPANDED">]>\n<sst ', 1)
    sst = sst.replace(b"<t>plain</t>", b"<t>&x;</t>")
    book = tmp_path / "dtd.xlsx"
    book.write_bytes(_with_part("xl/sharedStrings.xml", sst))
    reader = _reader(book)
    assert "EXPANDED" not in reader.shared_strings("xl/sharedStrings.xml")[0]
    assert X._expat_tree(sst) is None and not X._expat_ok(sst)


@pytest.mark.parametrize("part", ["xl/sharedStrings.xml", "xl/workbook.xml"])
def test_malformed_parts_fail_with_libxml2s_message(tmp_path, part):
    """XML expat rejects is read again by lxml: the error names the part and says what
    libxml2 says."""
    from lxml import etree
    with zipfile.ZipFile(BOOK) as z:
        bad = z.read(part).replace(b"</", b"</x", 1)
    book = tmp_path / "bad.xlsx"
    book.write_bytes(_with_part(part, bad))
    with pytest.raises(CorruptWorkbookError) as e:
        load_workbook(str(book))
    with pytest.raises(etree.XMLSyntaxError) as lx:
        etree.fromstring(bad, etree.XMLParser(**X._XML_OPTS))
    assert f"malformed XML in part {part}: " in str(e.value)
    assert lx.value.msg.strip() in str(e.value)


def test_a_usual_workbook_is_read_without_lxml(tmp_path):
    """Numbers, shared strings and formulas on ASCII sheets (as openpyxl writes them):
    loaded, calculated and saved in a fresh process, which never imports lxml (~4 MB of
    resident memory; 178 of the 300 conformance workbooks load so)."""
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    for r in range(1, 21):
        ws.cell(r, 1, f"item {r % 4}")
        ws.cell(r, 2, r * 1.5)
        ws.cell(r, 3, f"=B{r}*2+LEN(A{r})")
    ws["E1"] = '=SUMIF(A1:A20,"item 1",B1:B20)'
    book = tmp_path / "usual.xlsx"
    wb.save(book)
    code = ("import sys, xleval\n"
            f"wb = xleval.load({str(book)!r})\n"
            "wb.calculate(strategy='serial')\n"
            f"wb.save({str(tmp_path / 'out.xlsx')!r})\n"
            "print(wb['Data!E1'], 'lxml.etree' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    # E1: rows 1, 5, 9, 13, 17 hold "item 1": 1.5 * (1 + 5 + 9 + 13 + 17)
    assert out.stdout.split() == ["67.5", "False"]
