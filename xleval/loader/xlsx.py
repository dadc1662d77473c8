"""Streaming reader for .xlsx / .xlsm workbooks.

The zip is read directly (no openpyxl): small parts (relationships, workbook.xml, tables) are
parsed whole, the shared-string table is streamed. A sheet part is read into memory and
scanned by a regular-expression fast path for the usual cell forms; a sheet with anything
else (array formulas, rich inline text, prefixes...) is read by the general iterparse loader
instead. Malformed XML is rejected on either path: every part is checked by an XML parser,
except the rows of an ASCII sheet that the fast path reads, which it proves well-formed
itself (see "Fast sheet scanner").

Two parsers: the standard library's expat reads the usual parts (small parts, the shared
strings, an ASCII sheet's head and tail), and lxml (libxml2) everything else: a part with a
DTD (libxml2 is told to expand no entity and fetch nothing), one expat rejects (so a
malformed part fails with libxml2's message, as it always has), non-ASCII sheets and the
general sheet loader. lxml is imported when first needed: its import costs ~4 MB of resident
memory, a tenth of a small workbook's whole run.
Every part is read through a byte-counting reader, so a zip whose
headers lie about sizes cannot make the loader decompress more than the configured bound.

Anything wrong with the file ends in a `xleval.errors.WorkbookError` subclass whose message
says in plain words what is wrong.
"""
from __future__ import annotations

import datetime as _dt
import gc
import io
import os
import posixpath
import re
import time
import zipfile
import zlib
from array import array
from operator import itemgetter
from urllib.parse import unquote
from xml.etree import ElementTree as _ET
from xml.parsers import expat as _expat

from .. import errors
from ..forking import can_fork, start_helper
from ..refs import (MAX_COL, MAX_ROW, cell_name, column_numbers, far_column, parse_cell,
                    parse_range, range_name)
from ..values import MAX_ARRAY_ELEMENTS, XLError
from ..values import error as _xl_error
from .richdata import read_rich_values, rich_cells
from .model import (CalcSettings, DefinedName, ExternalBook, FormulaCell, PivotTable,
                    SheetData, Table, WorkbookData)
from .pivot import cache_fields, read_pivot
from .xmltags import local as _local

__all__ = ["load_workbook", "iso_to_serial", "decode_xstring"]

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_MARK = "EncryptedPackage".encode("utf-16-le")
_RATIO_MIN_SIZE = 10 * 2**20          # the compression-ratio test applies to parts above this
_MAX_UNCOMPRESSED = 4 * 2**30         # default bound on the parts' total uncompressed size
_MAX_RATIO = 200.0                    # default bound on the compression ratio
_DIGITS = "0123456789"

# iterparse / parser options: never fetch or expand anything external
_XML_OPTS = {"resolve_entities": False, "no_network": True, "load_dtd": False}


class _Lxml:
    """lxml.etree, imported when first used (see the module's docstring); the module's
    `etree` is the real one from then on."""

    def __getattr__(self, name: str):
        from lxml import etree as real
        globals()["etree"] = real
        return getattr(real, name)


etree = _Lxml()


def _expat_tree(data: bytes):
    """`data`'s root element read by expat (ElementTree), or None for what is left to
    lxml: a DTD (entity declarations: expat would expand them), XML expat rejects."""
    if b"<!DOCTYPE" in data:
        return None
    try:
        return _ET.fromstring(data)
    except (_ET.ParseError, ValueError):
        return None


def _expat_ok(data: bytes) -> bool:
    """Is `data` well-formed XML for expat, with no DTD, names in namespaces left
    unchecked as in libxml2's check (_check_xml)? (False sends a sheet to the lxml
    loader, which fails with libxml2's message if the part is malformed.)"""
    if b"<!DOCTYPE" in data:
        return False
    p = _expat.ParserCreate()
    try:
        p.Parse(data, True)
    except (_expat.ExpatError, ValueError):
        return False
    return True


class _NotForExpat(Exception):
    """A part the expat reader leaves to lxml."""


def _expat_strings(fh) -> list[str]:
    """The shared-string table streamed by expat: each <si>'s text, from its <t> and its
    runs' (<r>) <t>, phonetic runs (rPh) and anything deeper left out, as the lxml
    reader (Reader._shared_strings_lxml) reads it. Raises _NotForExpat for a DTD or XML
    expat rejects."""
    out: list[str] = []
    parts: list[str] = []
    path: list[str] = []          # local names of the open elements
    text: list[str] | None = None  # the open <t>'s pieces, where its text counts

    def start(tag, _attrs):
        nonlocal text
        local = tag[tag.rfind(":") + 1:]
        path.append(local)
        if local == "t":
            n = len(path)
            if n >= 2 and path[-2] == "si" or n >= 3 and path[-2] == "r" and path[-3] == "si":
                text = []
        elif local == "si":
            parts.clear()

    def end(_tag):
        nonlocal text
        local = path.pop()
        if local == "t":
            if text is not None:
                parts.append("".join(text))
                text = None
        elif local == "si" and (not path or path[-1] != "si"):
            s = parts[0] if len(parts) == 1 else "".join(parts)
            out.append(decode_xstring(s) if "_x" in s else s)

    def chars(data):
        if text is not None and path[-1] == "t":
            text.append(data)

    def dtd(*_args):
        raise _NotForExpat

    p = _expat.ParserCreate()
    p.StartElementHandler = start
    p.EndElementHandler = end
    p.CharacterDataHandler = chars
    p.StartDoctypeDeclHandler = dtd
    p.buffer_text = True
    try:
        p.ParseFile(fh)
    except (_expat.ExpatError, ValueError):
        raise _NotForExpat from None
    return out


_COLS: dict[str, int] = column_numbers()


# ---------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------

_XESC_RE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _xesc_sub(m: re.Match) -> str:
    return chr(int(m.group(1), 16))


def decode_xstring(s: str) -> str:
    """Decode OOXML `_xHHHH_` escapes ("_x000A_" -> newline; "_x005F_" is a literal '_', so
    "_x005F_x0041_" stays "_x0041_"). Escaped UTF-16 surrogate pairs are recombined."""
    if "_x" not in s:
        return s
    out = _XESC_RE.sub(_xesc_sub, s)
    if any("\ud800" <= ch <= "\udfff" for ch in out):
        try:
            out = out.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
        except UnicodeDecodeError:
            pass  # a lone surrogate: keep the code points as they are
    return out


_EPOCH_1900 = _dt.datetime(1899, 12, 30)
_EPOCH_1904 = _dt.datetime(1904, 1, 1)


def iso_to_serial(text: str, date1904: bool = False) -> float | None:
    """An ISO 8601 date/time as stored in a t="d" cell -> Excel serial number (None if the
    text is not a date). Honours the 1904 date system and Excel's fictitious 1900-02-29."""
    s = text.strip()
    if not s:
        return None
    try:
        if s[0] in "Tt" or ("-" not in s and ":" in s):     # a time of day only
            tm = _dt.time.fromisoformat(s.lstrip("Tt"))
            return (tm.hour * 3600 + tm.minute * 60 + tm.second
                    + tm.microsecond / 1e6) / 86400.0
        if not date1904 and s.startswith("1900-02-29"):       # exists only in Excel
            frac = 0.0
            if len(s) > 10:
                tm = _dt.time.fromisoformat(s[11:])
                frac = (tm.hour * 3600 + tm.minute * 60 + tm.second
                        + tm.microsecond / 1e6) / 86400.0
            return 60.0 + frac
        d = _dt.datetime.fromisoformat(s)
    except ValueError:
        return None
    if d.tzinfo is not None:
        d = d.replace(tzinfo=None)
    delta = d - (_EPOCH_1904 if date1904 else _EPOCH_1900)
    serial = delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400.0
    if not date1904 and 1 <= serial < 61:
        serial -= 1.0        # before 1900-03-01 Excel's serials are one lower
    return serial


def _bool_attr(v: str | None, default: bool = False) -> bool:
    if v is None:
        return default
    return v.strip().lower() in ("1", "true", "on")




def _rid(el) -> str | None:
    """The r:id attribute of an element, whatever the relationships namespace."""
    for k, v in el.attrib.items():
        if k.startswith("{") and k.endswith("}id"):
            return v
    return None


def _slow_cell(ref: str) -> tuple[int, int] | None:
    try:
        return parse_cell(ref.replace("$", ""))
    except ValueError:
        return None


def _range_or_none(ref: str | None) -> tuple[int, int, int, int] | None:
    if not ref:
        return None
    try:
        return parse_range(ref.strip().split(" ")[0].replace("$", ""))
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------
# Size-bounded part reader
# ---------------------------------------------------------------------------------------

class _BoundedReader:
    """File-like wrapper over a zip member that counts decompressed bytes: more than the
    member's declared size, or more than the workbook's remaining budget, is an error."""

    __slots__ = ("_fh", "_left", "_owner", "_part")

    def __init__(self, fh, declared: int, owner: "_Reader", part: str):
        self._fh = fh
        self._left = declared
        self._owner = owner
        self._part = part

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            # never ask for "everything": read in bounded chunks
            chunks = []
            while True:
                b = self.read(1 << 20)
                if not b:
                    return b"".join(chunks)
                chunks.append(b)
        data = self._fh.read(n)
        k = len(data)
        self._left -= k
        self._owner.budget -= k
        if self._left < 0:
            raise errors.WorkbookTooLargeError(
                self._owner.path, f"part {self._part} decompresses to more than its declared "
                "size (damaged or malicious zip)")
        if self._owner.budget < 0:
            raise errors.WorkbookTooLargeError(
                self._owner.path, "uncompressed content exceeds the size limit of "
                f"{_gb(self._owner.max_uncompressed)} (XLEVAL_MAX_UNCOMPRESSED_MB raises it)")
        return data

    def close(self) -> None:
        self._fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------------------------------
# Reader
# ---------------------------------------------------------------------------------------

class _Reader:
    def __init__(self, path: str, zf: zipfile.ZipFile, max_uncompressed: int,
                 workers: int = 1):
        self.path = path
        self.workers = workers          # processes that may read a large sheet's rows
        self.free: int | None = None    # how many of them the machine's load leaves free
        self.zf = zf
        self.max_uncompressed = max_uncompressed
        self.budget = max_uncompressed
        self.infos = {i.filename: i for i in zf.infolist()}
        # case-insensitive lookup; tolerate backslashes written by some zip tools
        self.lower = {n.replace("\\", "/").lower(): n for n in self.infos}
        self.sst: list[str] = []
        self.dynamic_cm: set[str] | None = None     # None: any cm marks a dynamic array
        self.date1904 = False
        self.pivot_caches: dict[str, list] = {}     # cache definition part -> its fields
        self.array_cells = 0            # cells the array / data-table ranges fill (so far)

    # -- parts ---------------------------------------------------------------------------

    def find(self, name: str | None) -> str | None:
        """The zip member name for a part name (case-insensitive, %-decoding tolerated)."""
        if not name:
            return None
        name = name.lstrip("/")
        if name in self.infos:
            return name
        hit = self.lower.get(name.lower())
        if hit is None and "%" in name:
            hit = self.lower.get(unquote(name).lower())
        return hit

    def open(self, part: str) -> _BoundedReader:
        info = self.infos[part]
        return _BoundedReader(self.zf.open(info), info.file_size, self, part)

    def corrupt(self, part: str, exc: Exception) -> errors.CorruptWorkbookError:
        msg = (getattr(exc, "msg", None) or str(exc)).strip() or type(exc).__name__
        return errors.CorruptWorkbookError(self.path, f"malformed XML in part {part}: {msg}")

    def parse(self, part: str):
        """Parse a (small) part into an element tree root: an ElementTree element read by
        expat, or where expat does not take the part (see _expat_tree) an lxml element
        (both read alike: tag, get, text, children)."""
        with self.open(part) as fh:
            data = fh.read()
        root = _expat_tree(data)
        if root is not None:
            return root
        try:
            return etree.fromstring(data, etree.XMLParser(**_XML_OPTS))
        except etree.LxmlError as exc:
            raise self.corrupt(part, exc) from exc

    def rels(self, part: str, raw: bool = False) -> list[tuple[str, str, str, bool]]:
        """Relationships of a part: [(id, type, target, external)]; internal targets are
        resolved to zip part names (which may not exist) unless `raw`."""
        # (a zip written with backslashes: its parts' folders are folders all the same)
        d, base = posixpath.split(part.replace("\\", "/"))
        found = self.find(posixpath.join(d, "_rels", base + ".rels"))
        if found is None:
            return []
        out = []
        for el in self.parse(found):
            if _local(el.tag) != "Relationship":
                continue
            target = el.get("Target") or ""
            external = (el.get("TargetMode") or "").lower() == "external"
            if not external and not raw:
                t = target.replace("\\", "/")
                t = t[1:] if t.startswith("/") else posixpath.join(d, t)
                target = posixpath.normpath(t) if t else t
            out.append((el.get("Id") or "", el.get("Type") or "", target, external))
        return out

    # -- workbook ------------------------------------------------------------------------

    def workbook_part(self) -> str:
        wb = None
        for _id, typ, target, ext in self.rels(""):
            if not ext and typ.endswith("/officeDocument"):
                wb = self.find(target)
                if wb is not None:
                    break
        if wb is None:
            wb = self.find("xl/workbook.xml")
        if wb is None or wb.lower().endswith(".bin"):
            if wb is not None or self.find("xl/workbook.bin"):
                raise errors.UnsupportedFormatError(
                    self.path, "binary Excel workbook (.xlsb) is not supported; save it as .xlsx")
            if self.find("content.xml") and self.find("mimetype"):
                raise errors.UnsupportedFormatError(
                    self.path, "zip file is not an Excel workbook (OpenDocument file; save "
                    "it as .xlsx)")
            raise errors.UnsupportedFormatError(
                self.path, "zip file is not an Excel workbook (no xl/workbook.xml)")
        return wb

    def fmt(self, wb_part: str) -> str:
        ext = os.path.splitext(self.path)[1].lower()
        if ext in (".xlsm", ".xltm"):
            return "xlsm"
        ct = self.find("[Content_Types].xml")
        if ct is not None:
            try:
                root = self.parse(ct)
            except errors.CorruptWorkbookError:
                return "xlsx"
            want = "/" + wb_part.lower()
            for el in root:
                if _local(el.tag) == "Override" and (el.get("PartName") or "").lower() == want:
                    if "macroenabled" in (el.get("ContentType") or "").lower():
                        return "xlsm"
        return "xlsx"

    def application(self) -> str:
        """The saving application (docProps/app.xml), e.g. 'Microsoft Macintosh Excel'."""
        part = self.find("docProps/app.xml")
        if not part:
            return ""
        try:
            root = self.parse(part)
        except Exception:  # noqa: BLE001 - metadata only: never fail a load on it
            return ""
        for el in root:
            if _local(el.tag) == "Application":
                return (el.text or "").strip()
        return ""

    def load(self) -> WorkbookData:
        wb_part = self.workbook_part()
        rels = {rid: (typ, target, ext) for rid, typ, target, ext in self.rels(wb_part)}
        root = self.parse(wb_part)
        data = WorkbookData(path=self.path, fmt=self.fmt(wb_part), sheets=[])
        ext_ids: list[str | None] = []
        pivot_caches: dict[str, str] = {}        # cacheId -> relationship id
        sheet_entries = []
        name_els = []
        for el in root:
            ln = _local(el.tag)
            if ln == "workbookPr":
                data.date1904 = _bool_attr(el.get("date1904"))
            elif ln == "calcPr":
                data.calc = _calc_settings(el)
            elif ln == "sheets":
                sheet_entries = [s for s in el if _local(s.tag) == "sheet"]
            elif ln == "definedNames":
                name_els = [n for n in el if _local(n.tag) == "definedName"]
            elif ln == "externalReferences":
                ext_ids = [_rid(x) for x in el if _local(x.tag) == "externalReference"]
            elif ln == "pivotCaches":
                pivot_caches = {pc.get("cacheId") or "": _rid(pc) or "" for pc in el
                                if _local(pc.tag) == "pivotCache"}
        self.date1904 = data.date1904
        data.application = self.application()

        seen: set[str] = set()
        for i, s in enumerate(sheet_entries):
            typ, target, ext = rels.get(_rid(s) or "", ("", "", False))
            tl = typ.lower()
            if tl.endswith("/chartsheet"):
                kind = "chartsheet"
            elif tl.endswith("/dialogsheet"):
                kind = "dialogsheet"
            elif tl.endswith("macrosheet"):
                kind = "macrosheet"
            else:
                kind = "worksheet"
            part = (None if ext else self.find(target)) or ""
            state = s.get("state") or "visible"
            name = s.get("name") or f"Sheet{i + 1}"
            if name.lower() in seen:    # (which one would 'A'!A1 mean?)
                raise errors.CorruptWorkbookError(
                    self.path, f"two sheets are named {name!r} (sheet names are unique, "
                    "whatever their case)")
            seen.add(name.lower())
            data.sheets.append(SheetData(name=name, index=i, part=part, state=state,
                                         kind=kind))

        for n in name_els:
            text = decode_xstring((n.text or "").strip())
            if text.startswith("="):
                text = text[1:]
            scope = n.get("localSheetId")
            try:
                scope_i = int(scope) if scope is not None else None
            except ValueError:
                scope_i = None
            data.names.append(DefinedName(name=n.get("name") or "", text=text, scope=scope_i,
                                          hidden=_bool_attr(n.get("hidden"))))

        sst_part = meta_part = None
        for typ, target, ext in rels.values():
            if ext:
                continue
            if typ.endswith("/sharedStrings"):
                sst_part = self.find(target)
            elif typ.endswith("/sheetMetadata"):
                meta_part = self.find(target)
        if sst_part is None:
            sst_part = self.find(posixpath.join(posixpath.dirname(wb_part.replace("\\", "/")),
                                                "sharedStrings.xml"))
        if sst_part is not None:
            self.sst = self.shared_strings(sst_part)
        if meta_part is not None:
            self.dynamic_cm = self.metadata(meta_part)

        for sheet in data.sheets:
            if sheet.kind != "worksheet":
                continue
            if not sheet.part:
                s_el = sheet_entries[sheet.index]
                typ, target, ext = rels.get(_rid(s_el) or "", ("", "", False))
                if target and not ext:
                    raise errors.CorruptWorkbookError(
                        self.path, f"sheet {sheet.name!r}: part {target} is missing")
                continue        # no relationship at all: an empty sheet
            self.sheet_cells(sheet)
            for _rid_, typ, target, ext in self.rels(sheet.part):
                if not ext and typ.endswith("/pivotTable"):
                    p = self.pivot(self.find(target), sheet.name, pivot_caches, rels)
                    if p is not None:
                        data.pivots.append(p)
                if not ext and typ.endswith("/table"):
                    tpart = self.find(target)
                    if tpart is not None:
                        t = self.table(tpart, sheet.name)
                        if t is not None:
                            data.tables.append(t)
                            af = t.autofilter
                            if af is not None and sheet.hidden_rows:
                                # a table's own filter hides rows like the sheet's
                                # (SUBTOTAL 1-11 leaves them out)
                                sheet.filtered_rows |= {r for r in sheet.hidden_rows
                                                        if af[0] < r <= af[2]}

        if meta_part is not None:
            self.rich_values(data, [(typ, target) for typ, target, ext in rels.values()
                                    if not ext], meta_part)

        for i, rid in enumerate(ext_ids, start=1):
            typ, target, ext = rels.get(rid or "", ("", "", False))
            part = None if ext else self.find(target)
            book = ExternalBook(index=i, target="", part=part or "")
            if part is not None:
                self.external(book, part)
            data.externals.append(book)
        return data

    # -- shared strings and metadata -----------------------------------------------------

    def shared_strings(self, part: str) -> list[str]:
        try:
            with self.open(part) as fh:
                return _expat_strings(fh)
        except _NotForExpat:
            return self._shared_strings_lxml(part)

    def _shared_strings_lxml(self, part: str) -> list[str]:
        out: list[str] = []
        append = out.append
        ns = T = R = None
        try:
            with self.open(part) as fh:
                for _ev, si in etree.iterparse(fh, events=("end",), tag="{*}si", **_XML_OPTS):
                    if ns is None:
                        ns = si.tag[:si.tag.rfind("}") + 1]
                        T, R = ns + "t", ns + "r"
                    parts = []
                    for ch in si:
                        tg = ch.tag
                        if tg == T:
                            parts.append(ch.text or "")
                        elif tg == R:
                            for x in ch:
                                if x.tag == T:
                                    parts.append(x.text or "")
                        # rPh (phonetic runs) and phoneticPr are skipped
                    s = parts[0] if len(parts) == 1 else "".join(parts)
                    append(decode_xstring(s) if "_x" in s else s)
                    si.clear()
                    prev = si.getprevious()
                    while prev is not None:
                        del si.getparent()[0]
                        prev = si.getprevious()
        except etree.LxmlError as exc:
            raise self.corrupt(part, exc) from exc
        return out

    def rich_values(self, data: WorkbookData, rels: list[tuple[str, str]],
                    meta_part: str) -> None:
        """Give the cells that hold rich values (linked data types, rich errors) their
        values (see richdata.py): a cell's fallback #VALUE! becomes the Entity or the error
        the rich value says, and `SheetData.rich` keeps every vm cell's value for the
        writer. Rich data is optional: anything unreadable leaves the cached values."""
        try:
            rich = read_rich_values(self.parse, self.find,
                                    [(typ, self.find(target) or "") for typ, target in rels],
                                    meta_part)
        except Exception:  # noqa: BLE001 - never fail a load on rich data
            return
        if not rich:
            return
        for sheet in data.sheets:
            if sheet.kind != "worksheet" or not sheet.part:
                continue
            try:
                with self.open(sheet.part) as fh:
                    cells = rich_cells(fh.read())
            except Exception:  # noqa: BLE001 - the sheet itself loaded: keep its values
                continue
            for rc, vm in cells.items():
                v = rich.get(vm)
                if v is None:
                    continue
                sheet.rich[rc] = v
                if rc in sheet.cached:
                    if isinstance(sheet.cached[rc], XLError):
                        sheet.cached[rc] = v
                elif isinstance(sheet.values.get(rc), XLError):
                    sheet.values[rc] = v

    def metadata(self, part: str) -> set[str] | None:
        """cm values (1-based cell-metadata indexes, as text) that mark dynamic arrays, or
        None when the part does not say (then any cm counts)."""
        root = self.parse(part)
        types: list[str] = []
        future: dict[str, list[bool]] = {}
        cell_bks = None
        for el in root:
            ln = _local(el.tag)
            if ln == "metadataTypes":
                types = [t.get("name") or "" for t in el if _local(t.tag) == "metadataType"]
            elif ln == "futureMetadata":
                flags = []
                for bk in el:
                    if _local(bk.tag) != "bk":
                        continue
                    dyn = False
                    for x in bk.iter():
                        if _local(x.tag) == "dynamicArrayProperties":
                            dyn = _bool_attr(x.get("fDynamic"))
                    flags.append(dyn)
                future[el.get("name") or ""] = flags
            elif ln == "cellMetadata":
                cell_bks = [bk for bk in el if _local(bk.tag) == "bk"]
        if cell_bks is None or not types:
            return None
        out: set[str] = set()
        for i, bk in enumerate(cell_bks, start=1):
            for rc in bk:
                if _local(rc.tag) != "rc":
                    continue
                try:
                    ti = int(rc.get("t") or "0")           # 1-based metadata type
                    v = int(rc.get("v") or "0")            # 0-based record of that type
                except ValueError:
                    continue
                if not 1 <= ti <= len(types):
                    continue
                tname = types[ti - 1]
                flags = future.get(tname)
                if tname == "XLDAPR" and (flags is None or (0 <= v < len(flags) and flags[v])):
                    out.add(str(i))
        return out

    # -- sheets --------------------------------------------------------------------------

    def sheet_cells(self, sheet: SheetData) -> None:
        part = sheet.part
        try:
            with self.open(part) as fh:
                data = fh.read()
            # Malformed XML is rejected whatever the path. The fast scanner proves an ASCII
            # part well-formed itself (libxml2 on all but the rows, its own checks on the
            # rows: a fifth of the load time saved); any other part is checked by libxml2
            # first. A part the scanner gives up on is checked by libxml2 before the lxml
            # loader reads it, so a malformed part fails with libxml2's message either way.
            ascii_ = data.isascii()
            if not ascii_:
                _check_xml(data)
            if not _scan_sheet(self, sheet, data):
                sheet.values.clear()
                sheet.formulas.clear()
                sheet.cached.clear()
                sheet.hidden_rows.clear()
                sheet.filtered_rows = set()
                if ascii_:
                    _check_xml(data)
                self._sheet_cells(sheet, io.BytesIO(data))
        except etree.LxmlError as exc:
            raise self.corrupt(part, exc) from exc

    def _sheet_cells(self, sheet: SheetData, fh) -> None:
        values = sheet.values
        formulas = sheet.formulas
        cached = sheet.cached
        sst = self.sst
        nsst = len(sst)
        cols = _COLS
        digits = _DIGITS
        date1904 = self.date1904
        dyn_cm = self.dynamic_cm
        # si -> the FormulaCell every member of a shared formula refers to: one object per
        # group, not per cell (same text and origin; members needing a flag get their own)
        shared: dict[str, FormulaCell] = {}
        pending: list[tuple[tuple[int, int], str]] = []  # shared members seen before anchor
        active: list[tuple[int, int, int, int]] = []      # array / dataTable ranges in play
        covcols: set[int] | None = None                  # covered columns of the current row
        cov_row = 0                                      # (the row covcols was made for)
        max_row = max_col = 0
        last_row = 0
        V = F = IS = T = R = None

        hidden = sheet.hidden_rows
        autofilter = None
        for _ev, row in etree.iterparse(fh, events=("end",),
                                        tag=("{*}row", "{*}autoFilter", "{*}mergeCell"),
                                        **_XML_OPTS):
            if row.tag.endswith("mergeCell"):
                _add_merged(sheet, row.get("ref"))
                continue
            if row.tag.endswith("autoFilter"):
                # only a filter with criteria hides rows (see Workbook tables)
                autofilter = (_range_or_none(row.get("ref")) if any(
                    _local(c.tag) == "filterColumn" for c in row) else None)
                continue
            if V is None:
                tag = row.tag
                ns = tag[:tag.rfind("}") + 1]
                V, F, IS, T, R = ns + "v", ns + "f", ns + "is", ns + "t", ns + "r"
            rr = row.get("r")
            rlen = 0
            if rr is not None:
                try:
                    rownum = int(rr)
                    rlen = len(rr)
                    if rownum < 1 or rownum > MAX_ROW or not rr.isdigit():
                        rownum, rlen = last_row + 1, 0
                except ValueError:
                    rownum = last_row + 1
            else:
                rownum = last_row + 1
            if rownum > MAX_ROW:        # rows without a (valid) r= after the last one
                raise errors.CorruptWorkbookError(
                    self.path, f"sheet {sheet.name!r}: a row after row {MAX_ROW:,}, the last")
            last_row = rownum
            if row.get("hidden") in ("1", "true"):
                hidden.add(rownum)
            col = 0
            if active:
                n_active = len(active)
                active = [a for a in active if a[2] >= rownum]
                if len(active) <= 8:
                    covcols = None
                elif covcols is None or rownum != cov_row or len(active) != n_active:
                    covcols, cov_row = _cover_cols(active, rownum), rownum

            for c in row:           # children of <row> are <c> (and a trailing extLst)
                ref = c.get("r")
                if ref is not None:
                    # fast path: "AB12" in row "12" -> column letters from the prefix
                    cn = cols.get(ref[:-rlen]) if rlen and ref.endswith(rr) else None
                    if cn is not None:
                        r = rownum
                    else:
                        letters = ref.rstrip(digits)
                        cn = cols.get(letters)
                        if cn is not None and len(letters) < len(ref):
                            r = int(ref[len(letters):])
                            if r > MAX_ROW or r < 1:
                                r, cn = rownum, col + 1
                        else:
                            rc = _slow_cell(ref)
                            r, cn = rc if rc is not None else (rownum, col + 1)
                else:
                    tag = c.tag
                    if not isinstance(tag, str) or not (tag == "c" or tag.endswith("}c")):
                        continue        # a comment or extLst: takes no column position
                    r, cn = rownum, col + 1
                if cn > MAX_COL:        # cells without a (valid) r= after column XFD
                    raise errors.CorruptWorkbookError(
                        self.path, f"sheet {sheet.name!r}: row {r} has a cell after column "
                        "XFD, the last")
                col = cn

                t = c.get("t")
                fel = vel = isel = None
                for ch in c:
                    tg = ch.tag
                    if tg == V:
                        vel = ch
                    elif tg == F:
                        fel = ch
                    elif tg == IS:
                        isel = ch

                # the value (constant or cached result)
                val = None
                if vel is not None:
                    vt = vel.text
                    if t is None or t == "n":
                        if vt:
                            try:
                                val = float(vt)
                            except ValueError:      # not a number after all: keep the text
                                val = vt.strip() or None
                    elif t == "s":
                        if vt:
                            try:
                                i = int(vt)
                            except ValueError:
                                i = -1
                            val = sst[i] if 0 <= i < nsst else ""
                    elif t == "str":
                        val = decode_xstring(vt) if vt else ""
                    elif t == "b":
                        if vt:
                            val = vt.strip().lower() in ("1", "true")
                    elif t == "e":
                        if vt:
                            val = _xl_error(vt.strip())
                    elif t == "d":
                        if vt:
                            val = iso_to_serial(vt, date1904)
                            if val is None:
                                val = vt
                    elif t == "inlineStr":
                        if isel is None:
                            val = decode_xstring(vt) if vt else ""
                    else:                       # unknown type: keep what is there
                        if vt:
                            val = vt
                if isel is not None and (t == "inlineStr" or vel is None):
                    val = _inline_text(isel, T, R)

                pos = (r, cn)
                is_formula = False
                if fel is not None:
                    ftext = fel.text or ""
                    ft = fel.get("t")
                    if ft is None or ft == "normal":
                        if ftext and not ftext.isspace():
                            fc = FormulaCell(decode_xstring(ftext) if "_x" in ftext else ftext,
                                             pos)
                            is_formula = True
                        # else: an empty <f/> (e.g. <f ca="1"/> inside a spill range) is no
                        # formula of its own
                    elif ft == "shared":
                        si = fel.get("si") or ""
                        if ftext and not ftext.isspace():
                            if "_x" in ftext:
                                ftext = decode_xstring(ftext)
                            fc = shared[si] = FormulaCell(ftext, pos)
                            is_formula = True
                        else:
                            fc = shared.get(si)
                            if fc is not None:
                                is_formula = True
                            else:
                                pending.append((pos, si))
                    elif ft == "array" or ft == "dataTable":
                        rng = _range_or_none(fel.get("ref")) or (r, cn, r, cn)
                        if rng != (r, cn, r, cn):
                            self.check_array_range(sheet, ft, (r, cn), rng)
                        if ft == "array":
                            fc = FormulaCell(decode_xstring(ftext) if "_x" in ftext else ftext,
                                             pos, kind="array", ref=rng)
                        else:
                            fc = FormulaCell(ftext, pos, kind="dataTable", ref=rng,
                                             dt=dict(fel.attrib))
                        is_formula = True
                        if rng[0] != rng[2] or rng[1] != rng[3]:
                            active.append(rng)
                            if covcols is not None:     # (added to, not made again)
                                if rng[0] <= rownum <= rng[2]:
                                    covcols.update(range(rng[1], rng[3] + 1))
                            elif len(active) > 8:
                                covcols, cov_row = _cover_cols(active, rownum), rownum
                            if rng[2] > max_row:
                                max_row = rng[2]
                            if rng[3] > max_col:
                                max_col = rng[3]
                    else:                                   # unknown formula type
                        if ftext.strip():
                            fc = FormulaCell(ftext, pos)
                            is_formula = True
                    if is_formula:
                        cm = c.get("cm")
                        if cm is not None and (dyn_cm is None or cm in dyn_cm):
                            # (a new object: for a shared formula, not the group's)
                            fc = FormulaCell(fc.text, fc.origin, fc.kind, fc.ref, True, fc.dt)
                        formulas[pos] = fc

                if is_formula:
                    if val is not None:
                        cached[pos] = val
                else:
                    covered = False
                    if active:
                        if covcols is not None and r == rownum:
                            covered = cn in covcols
                        else:
                            for a in active:
                                if a[0] <= r <= a[2] and a[1] <= cn <= a[3]:
                                    covered = True
                                    break
                    if covered or (fel is not None and pending and pending[-1][0] == pos):
                        if val is not None:
                            cached[pos] = val
                        else:
                            continue
                    elif val is not None:
                        values[pos] = val
                    else:
                        continue                            # blank (style only)
                if r > max_row:
                    max_row = r
                if cn > max_col:
                    max_col = cn

            row.clear()
            prev = row.getprevious()
            while prev is not None:
                del row.getparent()[0]
                prev = row.getprevious()

        # shared-formula members written before their anchor (not done by Excel)
        for pos, si in pending:
            anchor = shared.get(si)
            if anchor is not None:
                sheet.formulas[pos] = anchor
            elif pos in cached:                 # no formula to be found: keep the value
                values[pos] = cached.pop(pos)
        sheet.max_row = max_row
        sheet.max_col = max_col
        if autofilter is not None and hidden:
            # rows hidden inside the filter range (below its header) are filtered out
            sheet.filtered_rows = {r for r in hidden if autofilter[0] < r <= autofilter[2]}

    def check_array_range(self, sheet: SheetData, ft: str, pos: tuple[int, int],
                          rng: tuple[int, int, int, int]) -> None:
        """An array or data-table formula's range must start at its own cell (Excel writes
        it so) and, with the workbook's others, fill at most MAX_ARRAY_ELEMENTS cells:
        the loader and the engine walk each range cell by cell, so a few bytes saying
        "A1:XFD1048576" would otherwise cost minutes and tens of GB."""
        where = f"sheet {sheet.name!r}: the {ft} formula in {cell_name(*pos)}"
        if rng[0] != pos[0] or rng[1] != pos[1]:
            raise errors.CorruptWorkbookError(
                self.path, f"{where} fills {range_name(*rng)}, which does not start at it")
        self.array_cells += (rng[2] - rng[0] + 1) * (rng[3] - rng[1] + 1)
        if self.array_cells > MAX_ARRAY_ELEMENTS:
            raise errors.WorkbookTooLargeError(
                self.path, f"{where} fills {range_name(*rng)}: the workbook's array formulas "
                f"fill more than {MAX_ARRAY_ELEMENTS:,} cells in all (the size of Excel's "
                "largest array)")

    # -- tables --------------------------------------------------------------------------

    def table(self, part: str, sheet_name: str) -> Table | None:
        root = self.parse(part)
        rng = _range_or_none(root.get("ref"))
        if rng is None:
            return None
        columns = []
        autofilter = None
        for el in root:
            if _local(el.tag) == "tableColumns":
                columns = [decode_xstring(tc.get("name") or "") for tc in el
                           if _local(tc.tag) == "tableColumn"]
            elif _local(el.tag) == "autoFilter" and any(
                    _local(fc.tag) == "filterColumn" for fc in el):
                # (an autoFilter without criteria filters nothing: rows hidden inside it
                # are hidden by hand, which SUBTOTAL 1-11 still counts)
                autofilter = _range_or_none(el.get("ref"))
        try:
            header = int(root.get("headerRowCount") or 1)
            totals = int(root.get("totalsRowCount") or 0)
        except ValueError:
            header, totals = 1, 0
        name = root.get("displayName") or root.get("name") or ""
        return Table(name=name, sheet=sheet_name, ref=rng, columns=columns,
                     header_rows=header, totals_rows=totals, autofilter=autofilter)

    # -- pivot tables --------------------------------------------------------------------

    def pivot(self, part: str | None, sheet_name: str, cache_ids: dict[str, str],
              wb_rels: dict) -> PivotTable | None:
        """A sheet's pivot table part read for GETPIVOTDATA (see pivot.py), or None when
        it is missing or cannot be made sense of: a pivot table never fails a load."""
        if part is None:
            return None
        try:
            root = self.parse(part)
            cache_part = None
            for _id, typ, target, ext in self.rels(part):
                if not ext and typ.endswith("/pivotCacheDefinition"):
                    cache_part = self.find(target)
            if cache_part is None:          # older writers: only the workbook's cacheId
                typ, target, ext = wb_rels.get(cache_ids.get(root.get("cacheId") or "", ""),
                                               ("", "", True))
                cache_part = None if ext else self.find(target)
            if cache_part is None:
                return None
            cache = self.pivot_caches.get(cache_part)
            if cache is None:
                cache = self.pivot_caches[cache_part] = cache_fields(
                    self.parse(cache_part), decode_xstring,
                    lambda t: iso_to_serial(t, self.date1904))
            return read_pivot(root, sheet_name, cache, decode_xstring)
        except errors.WorkbookTooLargeError:
            raise                           # the size guard holds for every part
        except Exception:  # noqa: BLE001 - malformed or unexpected pivot parts: left out
            return None

    # -- external links ------------------------------------------------------------------

    def external(self, book: ExternalBook, part: str) -> None:
        # the linked workbook's path exactly as written (normally TargetMode="External")
        rels = {rid: (typ, target) for rid, typ, target, _ext in self.rels(part, raw=True)}
        sheet_ids: dict[str, str] = {}
        cur_sheet: dict | None = None
        cur_row = cur_col = 0
        try:
            with self.open(part) as fh:
                for ev, el in etree.iterparse(fh, events=("start", "end"), **_XML_OPTS):
                    ln = _local(el.tag)
                    if ev == "start":
                        if ln == "externalBook":
                            rid = _rid(el)
                            if rid in rels:
                                book.target = rels[rid][1]
                        elif ln == "sheetData":
                            sid = el.get("sheetId") or ""
                            name = sheet_ids.get(sid, sid)
                            cur_sheet = book.values.setdefault(name, {})
                        elif ln == "row":
                            try:
                                cur_row = int(el.get("r") or cur_row + 1)
                            except ValueError:
                                cur_row += 1
                            cur_col = 0
                        elif ln == "ddeLink" or ln == "oleLink":
                            if ln == "ddeLink":
                                book.target = "|".join(
                                    x for x in (el.get("ddeService"), el.get("ddeTopic")) if x)
                            else:
                                rid = _rid(el)
                                if rid in rels:
                                    book.target = rels[rid][1]
                        continue
                    if ln == "sheetName":
                        sheet_ids[str(len(book.sheet_names))] = el.get("val") or ""
                        book.sheet_names.append(el.get("val") or "")
                    elif ln == "definedName":
                        nm = el.get("name") or ""
                        text = el.get("refersTo") or ""
                        if text.startswith("="):
                            text = text[1:]
                        if el.get("sheetId") is None or nm not in book.names:
                            book.names[nm] = text
                    elif ln == "cell" and cur_sheet is not None:
                        ref = el.get("r")
                        rc = _slow_cell(ref) if ref else None
                        if rc is None:                  # no usable r: next in the row
                            rc = (cur_row, cur_col + 1)
                        cur_col = rc[1]
                        v = None
                        for ch in el:
                            if _local(ch.tag) == "v":
                                v = ch.text
                        val = _external_value(el.get("t"), v, self.date1904)
                        if val is not None:
                            cur_sheet[rc] = val
                        el.clear()
                    elif ln == "row":
                        el.clear()
        except etree.LxmlError as exc:
            raise self.corrupt(part, exc) from exc


# ---------------------------------------------------------------------------------------
# Fast sheet scanner
# ---------------------------------------------------------------------------------------
# The sheet XML that Excel, openpyxl, XlsxWriter and LibreOffice write is regular enough for
# regular expressions over the bytes, which is 2-3x faster than walking lxml elements: one
# match per cell instead of several element proxies and attribute lookups. The scanner only
# accepts what it fully understands (cells with r="A1" first and [<f>][<v>][<is><t>] content,
# normal and shared formulas whose anchor came first, no entity in attributes, nothing but
# whitespace between elements); on anything else it gives up and the lxml loader above reads
# the sheet.
#
# Well-formedness: an ASCII part the scanner reads is proven well-formed without libxml2
# reading the rows (a fifth of the load time): libxml2 checks the part with the rows cut out,
# the scanner's expressions admit nothing but balanced row, c, f, v, is and t tags, and the
# rest is checked by the scanner: no control character, every & a valid reference, no "]]>",
# attribute strings that are well-formed (each distinct one checked once; see _Names). A
# part with anything else, and any non-ASCII part, is checked by libxml2 as a whole.

class _NullTarget:
    """An lxml parser target that keeps nothing (a well-formedness check only)."""

    def close(self) -> None:
        return None


_SHEETDATA_RE = re.compile(rb"<sheetData\s*>")
# One token of the rows: a cell in the usual form, a row's start tag (up to the ">", so
# ending in "/" when empty), or (last group) a row's end tag or the first character of
# anything else (whitespace between tokens is skipped). Read with findall, a piece of whole
# rows at a time: a group that takes no part gives b"", so the groups that must tell
# "absent" from "empty" keep their tags: the <f start tag with its attributes, the whole
# <v> element, the whole <is> element, the <row start tag. The quantifiers are possessive
# (nothing one gave up could let the rest match; no backtracking points make the scan a
# fifth faster). The cell's and the <f>'s attributes are taken as they come ([^>/]*, a fast
# loop) and checked against _ATTRS_RE once per distinct string (' s="3"', ' t="s"'...).
_FCELL_RE = re.compile(
    rb'<c r="([A-Z]{1,3}+)([0-9]{1,7}+)"([^>/]*+)(?:/>|>'
    rb"(?:(<f[^>/]*+)(?:/>|>([^<]*+)</f>))?+"
    rb"(<v>[^<]*+</v>|<v\s*+/>)?+"
    rb'(<is><t(?:\s+xml:space="preserve")?+>[^<]*+</t></is>)?+'
    rb"</c>)"
    rb'|(<row(?:\s+[\w:.\-]+="[^"&<]*+")*+\s*+/?)>|(</row>|\S)')
_PIECE = 1 << 16            # bytes of whole rows read by one findall
_MAX_PIECE = 4 * _PIECE     # ... at most: else cut between cells (_CUT_RE)
# after a cell or an empty row tag, before a cell, a row or a row's end: between two tokens
_CUT_RE = re.compile(rb"(?:</c>|/>)(?=\s*+<(?:c\s|row[\s/>]|/row>))")
_ATTRS_RE = re.compile(rb'(?:\s+[\w:.\-]+="[^"&<]*+")*+\s*+')
_ATTR_RE = re.compile(rb'([\w:.\-]+)="([^"]*)"')
_T_RE = re.compile(rb'\st="([^"]*)"')
_CM_RE = re.compile(rb'\scm="([^"]*)"')
_AUTOFILTER_RE = re.compile(rb"<(?:[\w.\-]+:)?autoFilter\b([^>]*)>")
_MERGE_RE = re.compile(rb"<(?:[\w.\-]+:)?mergeCell\s[^>]*?\bref=\"([^\"]*)\"")
_REF_ATTR_RE = re.compile(rb"""\sref\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_ENTITY_RE = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|amp|lt|gt|quot|apos);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_BCOLS: dict[bytes, int] = column_numbers(as_bytes=True)
# for the scanner's own well-formedness checks
_CTRL = bytes(range(9)) + b"\x0b\x0c" + bytes(range(14, 32))      # not XML characters
_XREF_RE = re.compile(rb"&(?:amp|lt|gt|quot|apos|#([0-9]++)|#x([0-9A-Fa-f]++));")
_NAME_RE = re.compile(rb"[A-Za-z_:][\w.\-:]*+")      # an XML name (the ASCII ones)


class _GiveUp(Exception):
    """The fast scanner met something it leaves to the lxml loader."""


def _entity(m: re.Match) -> str:
    e = m.group(1)
    if e[0] == "#":
        return chr(int(e[2:], 16) if e[1] in "xX" else int(e[1:]))
    return _ENTITIES[e]


def _text(b: bytes) -> str:
    """XML text content (bytes between tags) as a str: entities resolved."""
    s = b.decode("utf-8")
    if "&" in s:
        if "&#" in s:
            s = _ENTITY_RE.sub(_entity, s)
        else:   # the predefined entities only (no other passed the checks): &amp; last
            s = (s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
                 .replace("&apos;", "'").replace("&amp;", "&"))
    if "\r" in s:            # XML line-end normalisation (rare: leave it to libxml2)
        raise _GiveUp
    return s


def _check_xml(data: bytes) -> None:
    """libxml2's well-formedness check of a whole part (no tree built): raises
    etree.XMLSyntaxError. Fed in pieces, as iterparse reads."""
    checker = etree.XMLParser(target=_NullTarget(), **_XML_OPTS)
    for i in range(0, len(data), 1 << 16):
        checker.feed(data[i:i + (1 << 16)])
    checker.close()


class _Names:
    """Checks attribute strings of the rows' tags for well-formedness (what _FCELL_RE
    and _ATTRS_RE leave open), remembering the sets of names found good."""

    def __init__(self) -> None:
        self.good: set[tuple[bytes, ...]] = set()

    def attrs_ok(self, a: bytes, before: tuple[bytes, ...] = ()) -> bool:
        """Whether the attributes `a` (' s="1" t="s"') are well-formed, in a tag whose
        attributes `before` them are named `before`."""
        if _ATTRS_RE.fullmatch(a) is None:
            return False
        return self.names_ok(before + tuple(k for k, _v in _ATTR_RE.findall(a)))

    def names_ok(self, names: tuple[bytes, ...]) -> bool:
        """Whether one tag's attribute names are well-formed as libxml2's check (_check_xml)
        sees it: XML names, none repeated. (Namespace declarations, which only libxml2
        can judge, are left to it.)"""
        if names in self.good:
            return True
        if len(set(names)) != len(names):
            return False
        for nm in names:
            if _NAME_RE.fullmatch(nm) is None or nm.startswith(b"xmlns"):
                return False
        self.good.add(names)
        return True


def _rows_text_ok(data: bytes, pos: int, end: int) -> bool:
    """The scanner's checks of the text in data[pos:end] (the rows) that its expressions
    leave open: no "]]>", every & a predefined entity or a reference to an XML character.
    (No control character: checked a piece at a time by _scan_rows.)"""
    if data.find(b"]]>", pos, end) >= 0:
        return False
    n = data.count(b"&", pos, end)
    if not n:
        return True
    refs = _XREF_RE.findall(data, pos, end)
    if len(refs) != n:
        return False
    for dec, hexa in set(refs):
        if dec or hexa:
            c = int(dec) if dec else int(hexa, 16)
            if not (c in (0x9, 0xA, 0xD) or 0x20 <= c <= 0xD7FF or 0xE000 <= c <= 0xFFFD
                    or 0x10000 <= c <= 0x10FFFF):
                return False
    return True


def _scan_sheet(reader: "_Reader", sheet: SheetData, data: bytes) -> bool:
    """Fill `sheet` from the sheet XML `data` with the fast scanner; False (sheet partly
    filled, to be cleared) when the XML has something the scanner does not handle, or that
    it cannot prove well-formed. True: `data` is well-formed XML (see above)."""
    head = data[:200]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or b"<!DOCTYPE" in data[:4096]:
        return False
    decl = re.match(rb"""(?:\xef\xbb\xbf)?<\?xml[^>]*encoding\s*=\s*["']([^"']*)""", head)
    if decl is not None and decl.group(1).lower() not in (b"utf-8", b"utf8"):
        return False
    m = _SHEETDATA_RE.search(data)
    if m is None:
        if b"sheetData" in data:
            return False                     # prefixed/odd
        return _expat_ok(data)               # none at all: an empty sheet
    end = data.find(b"</sheetData>", m.end())
    if end < 0 or data.find(b"sheetData", end + 12) >= 0 or not _rows_text_ok(data, m.end(),
                                                                                 end):
        return False                         # (a second sheetData: the lxml loader's)
    if not _expat_ok(data[:m.end()] + data[end:]):      # all but the rows
        return False
    try:
        _scan_split(reader, sheet, data, m.end(), end, _Names())
    except (_GiveUp, KeyError):
        return False
    except (ValueError, UnicodeDecodeError):
        return False
    for mm in _MERGE_RE.finditer(data, end):
        _add_merged(sheet, mm.group(1).decode("utf-8", "replace"))
    af = None
    for am in _AUTOFILTER_RE.finditer(data, end):    # the last one, as the lxml loader
        af = am
    if (af is not None and sheet.hidden_rows and not af.group(1).rstrip().endswith(b"/")
            and b"filterColumn" in data[af.end():data.find(b"autoFilter>", af.end())]):
        # (a filter with criteria: rows hidden in its range are filtered out)
        refm = _REF_ATTR_RE.search(af.group(1))
        ref = refm.group(1) or refm.group(2) if refm is not None else None
        rng = _range_or_none(ref.decode("utf-8")) if ref else None
        if rng is not None:
            sheet.filtered_rows = {r for r in sheet.hidden_rows if rng[0] < r <= rng[2]}
    return True


def _add_merged(sheet: SheetData, ref: str | None) -> None:
    """A <mergeCell ref="A1:B2"/>: a dynamic array cannot spill into it (#SPILL!)."""
    rng = _range_or_none(ref) if ref else None
    if rng is not None and (rng[0] != rng[2] or rng[1] != rng[3]):
        sheet.merged.append(rng)


def _value(t: bytes | None, vel: bytes, isel: bytes, sst: list[str], date1904: bool):
    """A cell's value from its t= and its <v> element (`vel`, "<v>text</v>" or "<v/>"), as
    the lxml loader decodes it (the <is> element `isel` only says whether one is there)."""
    vt = vel[3:-4] if vel[2] == 62 else b""         # <v>text</v>, or <v/>: no text
    if t is None or t == b"n":
        if vt:
            try:
                return float(vt)
            except ValueError:                      # entities, Unicode digits or spaces
                txt = _text(vt)
                try:
                    return float(txt)
                except ValueError:                  # not a number after all: keep the text
                    return txt.strip() or None
        return None
    if t == b"s":
        if not vt:
            return None
        try:
            i = int(vt)
        except ValueError:
            try:
                i = int(_text(vt))
            except ValueError:
                i = -1
        return sst[i] if 0 <= i < len(sst) else ""
    vs = _text(vt)                                  # as text, exactly as the lxml loader
    if t == b"str":
        return decode_xstring(vs) if vs else ""
    if not vs:
        return "" if t == b"inlineStr" and not isel else None
    if t == b"b":
        return vs.strip().lower() in ("1", "true")
    if t == b"e":
        return _xl_error(vs.strip())
    if t == b"d":
        val = iso_to_serial(vs, date1904)
        return vs if val is None else val
    if t == b"inlineStr":
        return None if isel else decode_xstring(vs)
    return vs                                       # unknown type: keep what is there


class _ScanState:
    """What the reading of one stretch of rows leaves to the next (_scan_rows): the shared
    formulas' anchors by si, and the last row number (for a row without r=). `apart`: a
    stretch read on its own (_scan_part), where a member whose anchor it has not met gets
    its si (bytes; (si,) in a dynamic array, whose members get copies of the anchor)
    instead of the anchor's object until the stretches are joined (_join_part)."""
    __slots__ = ("shared", "last_row", "apart")

    def __init__(self, apart: bool = False):
        self.shared: dict[bytes, FormulaCell] = {}
        self.last_row = 0
        self.apart = apart


def _scan_rows(reader: "_Reader", sheet: SheetData, data: bytes, pos: int, end: int,
               names: _Names, state: _ScanState | None = None) -> None:
    """Read the rows of <sheetData> (data[pos:end]) into `sheet`, a piece of whole rows at
    a time (one findall over it); _GiveUp (KeyError for a cell outside a row or beyond XFD,
    or a shared formula's member before its anchor) on anything not in the usual form, not
    proven well-formed (control characters; attributes that `names` does not pass) or
    unbalanced (rows in rows, a </row> outside a row, a row left open). `state` carries on
    from the rows before data[pos:] (see _ScanState)."""
    if state is None:
        state = _ScanState()
    values = sheet.values
    formulas = sheet.formulas
    cached = sheet.cached
    hidden = sheet.hidden_rows
    sst = reader.sst
    nsst = len(sst)
    bcols = _BCOLS
    date1904 = reader.date1904
    dyn_cm = reader.dynamic_cm
    shared = state.shared
    apart = state.apart
    # the <f start tag -> (0 normal, 1 shared, 2 other; si): members repeat '<f t="shared" si="0"'
    fattr_cache: dict[bytes, tuple[int, bytes]] = {}
    members: dict[bytes, FormulaCell] = {}  # <f start tag of a member -> its group's object
    attr_t: dict[bytes, bytes | None] = {}  # cell attributes found well-formed -> t=
    row_rest: dict[bytes, bool] = {}        # row attributes after r="..." -> hidden
    tokens = _FCELL_RE.findall
    max_row, max_col, last_row = sheet.max_row, sheet.max_col, state.last_row
    rr = None
    bc: dict[bytes, int] = {}               # _BCOLS inside a row, {} between rows
    while pos < end:
        # a piece of whole rows (cut after a </row>) at a time: one findall over it
        cut = (data.find(b"</row>", pos + _PIECE, min(end, pos + _MAX_PIECE))
               if end - pos > _PIECE else -1)
        if cut >= 0:
            cut += 6
        elif end - pos <= _MAX_PIECE:
            cut = end
        else:
            # no </row> for long (a very long row, or a hostile part: padding, row tags
            # without rows): cut between two cells or rows, so that one findall's list
            # stays small (a piece of one-character tokens costs ~130 bytes a byte)
            m = _CUT_RE.search(data, pos + _PIECE, pos + _MAX_PIECE)
            if m is None:
                raise _GiveUp
            cut = m.end()
        piece = data[pos:cut]
        if len(piece.translate(None, _CTRL)) != cut - pos:
            raise _GiveUp                       # a control character: not XML
        for letters, digits, attrs, fstart, ftext, vel, isel, rowtag, other in tokens(piece):
            if not letters:                     # not a cell
                if other:
                    if other != b"</row>" or not bc:
                        raise _GiveUp           # a comment, another cell form, an extLst...
                    bc = {}
                    continue
                if bc:
                    raise _GiveUp               # (a row in a row: libxml2's error)
                if rowtag.startswith(b'<row r="'):
                    # the usual tag: r= first, the other attributes as in many rows
                    q = rowtag.index(b'"', 8)
                    rr = rowtag[8:q]
                    hid = row_rest.get(rowtag[q + 1:]) if q + 1 < len(rowtag) else False
                    if hid is None:
                        rest = rowtag[q + 1:]
                        pairs = _ATTR_RE.findall(rest)
                        ra = dict(pairs)
                        if (len(ra) != len(pairs) or b"r" in ra
                                or not names.names_ok(tuple(ra) + (b"r",))):
                            raise _GiveUp       # (libxml2 says whether it is well-formed)
                        if len(row_rest) > 4096:
                            row_rest.clear()
                        hid = row_rest[rest] = ra.get(b"hidden") in (b"1", b"true")
                else:
                    ra = {}
                    if len(rowtag) > 4:
                        pairs = _ATTR_RE.findall(rowtag, 4)
                        ra = dict(pairs)
                        if len(ra) != len(pairs) or not names.names_ok(tuple(ra)):
                            raise _GiveUp
                    rr = ra.get(b"r")
                    hid = ra.get(b"hidden") in (b"1", b"true")
                rownum = last_row + 1
                if rr is not None and rr.isdigit() and 1 <= int(rr) <= MAX_ROW:
                    rownum = int(rr)
                else:
                    rr = None
                    if rownum > MAX_ROW:
                        raise _GiveUp           # past the last row: the lxml loader's error
                last_row = rownum
                if hid:
                    hidden.add(rownum)
                if rowtag[-1] != 47:            # <row ...>, not <row .../>
                    bc = bcols
                continue
            try:
                cn = bc[letters]
            except KeyError:                    # not in a row: KeyError; else AAA..XFD
                if bc is not bcols:
                    raise
                cn = far_column(bcols, letters)  # (KeyError beyond XFD)
            if digits == rr:
                r = rownum
            else:
                r = int(digits)
                if r > MAX_ROW or r < 1:
                    raise _GiveUp
            t = None
            if attrs:
                try:
                    t = attr_t[attrs]
                except KeyError:
                    if not names.attrs_ok(attrs, (b"r",)):
                        raise _GiveUp from None
                    if len(attr_t) > 4096:
                        attr_t.clear()
                    tm = _T_RE.search(attrs) if b't="' in attrs else None
                    t = attr_t[attrs] = None if tm is None else tm.group(1)

            # the value (constant or cached result), as the lxml loader decodes it: a plain
            # number or shared string here, anything else (and <v/>) by _value
            val = None
            if vel:
                if t is None:
                    try:
                        val = float(vel[3:-4])
                    except ValueError:
                        val = _value(t, vel, isel, sst, date1904)
                elif t == b"s":
                    try:
                        i = int(vel[3:-4])
                        val = sst[i] if 0 <= i < nsst else ""
                    except ValueError:
                        val = _value(t, vel, isel, sst, date1904)
                else:
                    val = _value(t, vel, isel, sst, date1904)
            if isel and (t == b"inlineStr" or not vel):     # <is><t ...>text</t></is>
                val = decode_xstring(_text(isel[isel.index(b">", 5) + 1:-9]))

            pos_ = (r, cn)
            fc = None
            if fstart:
                # a shared formula's member (no text) met before: the group's object
                fc = None if ftext else members.get(fstart)
                fkind = 1
            if fc is None and fstart:
                try:
                    fkind, si = fattr_cache[fstart]
                except KeyError:
                    if len(fattr_cache) > 4096:
                        fattr_cache.clear()
                    pairs = _ATTR_RE.findall(fstart)
                    fa = dict(pairs)
                    if (len(fa) != len(pairs) or _ATTRS_RE.fullmatch(fstart, 2) is None
                            or not names.names_ok(tuple(fa))):
                        raise _GiveUp
                    ft = fa.get(b"t")
                    fkind, si = fattr_cache[fstart] = (
                        0 if ft is None or ft == b"normal" else 1 if ft == b"shared" else 2,
                        fa.get(b"si") or b"")
                ftxt = _text(ftext) if ftext else ""
                if fkind == 1:
                    if ftxt and not ftxt.isspace():
                        if si in shared:        # an si set again: the members that follow
                            members.clear()     # belong to the new anchor
                        fc = shared[si] = FormulaCell(
                            decode_xstring(ftxt) if "_x" in ftxt else ftxt, pos_)
                    else:
                        fc = shared.get(si)
                        if fc is None:
                            if not apart:
                                raise KeyError(si)      # a member before its anchor
                            fc = si             # stands in for the anchor (_join_part)
                        else:
                            if len(members) > 65536:
                                members.clear()
                            members[fstart] = fc
                elif fkind == 0:
                    if ftxt and not ftxt.isspace():
                        fc = FormulaCell(decode_xstring(ftxt) if "_x" in ftxt else ftxt, pos_)
                else:
                    raise _GiveUp               # array / dataTable / unknown: lxml loader
            if fc is not None and attrs and b"cm=" in attrs:
                cmm = _CM_RE.search(attrs)
                if cmm is not None:
                    cm = cmm.group(1).decode("utf-8")
                    if dyn_cm is None or cm in dyn_cm:
                        if type(fc) is bytes:   # (apart) a dynamic copy of the anchor
                            fc = (fc,)          # (a new object: one per cell)
                        else:               # (for a shared formula: not the group's)
                            fc = FormulaCell(fc.text, fc.origin, dynamic=True)
            if fc is not None:
                formulas[pos_] = fc
                if val is not None:
                    cached[pos_] = val
            elif val is not None:
                values[pos_] = val
            else:
                continue                        # blank (style only)
            if r > max_row:
                max_row = r
            if cn > max_col:
                max_col = cn
        pos = cut
    if bc:
        raise _GiveUp                           # (a row left open)
    sheet.max_row = max_row
    sheet.max_col = max_col
    state.last_row = last_row


# A sheet's rows are read by several processes when the load may use them (load_workbook's
# `workers`, as many as the strategy calculates with) and the rows are long enough to repay
# a fork and the trip of the cells back (~8 ms for 100k cells): forked processes each read
# a stretch of whole rows and send their cells back pickled; the parent reads the first
# stretch meanwhile and joins the others in row order. The result is the same dicts in the
# same order as one reading: the members of a shared formula whose anchor is in an earlier
# stretch are joined to the parent's object (pickling keeps a stretch's own anchors shared
# by their members). A stretch whose process fails or gives up is read by the parent.
# Measured (finance_10000, one sheet of 600k cells, 26 MB): see benchmarks/RESULTS.md.
_SPLIT_MIN = 2 << 20          # bytes of rows below which a sheet is read in one process
# a sheet with more formula texts than a quarter of its cells (distinct formulas) stays in
# one process: each text is an object the parent rebuilds, which costs about what reading
# it does (hetero_20000: no gain at all)
_SPLIT_DISTINCT = 4
_ROW_START = re.compile(rb'<row r="([0-9]{1,7})"')
_SPLIT_STATS = {"sheets": 0, "parts": 0, "read_here": 0}    # (tests)
_CHECK_LOAD = True            # read with free cores only (free_workers; tests turn it off)
_SPLIT_PATIENCE = 10.0        # seconds at least before a stretch is read here instead


def _split_points(data: bytes, pos: int, end: int, parts: int,
                  first_share: float) -> list[int]:
    """Where to cut data[pos:end] into `parts` stretches of whole rows, the first taking
    `first_share` of the bytes: [pos, ..., end]. A cut goes after a </row> followed (after
    white space) by a row whose r= is a valid row number, so that a stretch read on its
    own numbers its rows as the whole reading would; fewer stretches where there is none."""
    cuts = [pos]
    size = end - pos
    rest = (1.0 - first_share) / (parts - 1)
    for i in range(1, parts):
        at = max(pos + int(size * (first_share + rest * (i - 1))), cuts[-1] + 1)
        while True:
            j = data.find(b"</row>", at, end)
            if j < 0:
                break
            at = j = j + 6
            while at < end and data[at] in b" \t\r\n":
                at += 1
            m = _ROW_START.match(data, at, end)
            if m is not None and 1 <= int(m.group(1)) <= MAX_ROW:
                cuts.append(j)
                break
        if j < 0:
            break
    if cuts[-1] != end:
        cuts.append(end)
    return cuts


def _scan_part(reader: "_Reader", data: bytes, pos: int, end: int, tx) -> None:
    """In a forked process: read the stretch data[pos:end] on its own and send its cells
    (_pack_part), or None when it gives up (the parent reads the stretch itself)."""
    got = None
    try:
        start_helper()
        part = SheetData("", 0, "")
        state = _ScanState(apart=True)
        _scan_rows(reader, part, data, pos, end, _Names(), state)
        got = _pack_part(part, state)
    except BaseException:  # noqa: BLE001 - whatever happened, the parent reads the stretch
        got = None
    try:
        tx.send(got)
    except BaseException:  # noqa: BLE001 - (too large to send...) the parent reads it
        try:
            tx.send(None)
        except BaseException:  # noqa: BLE001
            pass
    tx.close()


def _cells_of(d: dict) -> tuple:
    """A {(row, col): value} dict as (rows, cols, values): flat arrays pickle ~10x faster
    than a dict of tuples."""
    keys = list(d)
    return (array("i", map(itemgetter(0), keys)), array("i", map(itemgetter(1), keys)),
            list(d.values()))


def _pack_part(part: SheetData, state: _ScanState) -> tuple:
    """A stretch's cells as plain data: the formulas as the distinct FormulaCell objects
    (text, origin, dynamic; or a pending member's si) and, per cell, the index of its
    object, so that the objects shared by a group's cells stay one object when rebuilt."""
    rows, cols, fcs = _cells_of(part.formulas)
    ids = list(map(id, fcs))
    distinct = dict(zip(ids, fcs))              # id -> object, in the order first met
    index = dict(zip(distinct, range(len(distinct))))
    objs = [(fc.text, fc.origin, fc.dynamic) if isinstance(fc, FormulaCell) else fc
            for fc in distinct.values()]
    shared = [(si, index[id(fc)]) for si, fc in state.shared.items() if id(fc) in index]
    return (_cells_of(part.values), (rows, cols, array("i", map(index.__getitem__, ids))),
            objs, _cells_of(part.cached), part.hidden_rows, part.max_row, part.max_col,
            shared, state.last_row)


def _join_part(sheet: SheetData, state: _ScanState, got: tuple) -> None:
    """Add a stretch read apart (_scan_part, _pack_part) to `sheet`, which was read up to
    it with `state`."""
    values, (rows, cols, idx), descs, cached, hidden, max_row, max_col, shared, last_row = got
    objs = []
    for d in descs:
        if type(d) is bytes:                    # a member of an earlier stretch's anchor
            objs.append(state.shared[d])        # (KeyError: a member before its anchor)
            continue
        if len(d) == 1:                         # ... in a dynamic array: its own copy
            anchor = state.shared[d[0]]
            d = (anchor.text, anchor.origin, True)
        text, origin, dynamic = d
        objs.append(FormulaCell(text, origin, dynamic=dynamic))
    for target, (r, c, v) in ((sheet.values, values), (sheet.cached, cached)):
        target.update(zip(zip(r.tolist(), c.tolist()), v))
    sheet.formulas.update(zip(zip(rows.tolist(), cols.tolist()), map(objs.__getitem__, idx)))
    sheet.hidden_rows |= hidden
    sheet.max_row = max(sheet.max_row, max_row)
    sheet.max_col = max(sheet.max_col, max_col)
    state.shared.update((si, objs[k]) for si, k in shared)
    state.last_row = last_row


def _scan_split(reader: "_Reader", sheet: SheetData, data: bytes, pos: int, end: int,
                names: _Names) -> None:
    """_scan_rows over data[pos:end], by reader.workers processes when it pays (above)."""
    workers = reader.workers
    sample = min(end, pos + (1 << 20))      # (the first MB of rows tells the kind of sheet)
    if (workers >= 2 and end - pos >= _SPLIT_MIN and can_fork() and data.count(
            b"</f>", pos, sample) * _SPLIT_DISTINCT <= data.count(b"<c ", pos, sample)):
        if _CHECK_LOAD:             # fewer while other programs keep the cores busy
            if reader.free is None:             # (asked once per workbook: ~3 ms)
                from ..scheduler.base import free_workers
                reader.free = free_workers(workers)
            workers = reader.free
        if workers >= 2:
            # with two, the parent reads a little more: it also joins the other's cells
            cuts = _split_points(data, pos, end, workers,
                                 0.55 if workers == 2 else 1.0 / workers)
            if len(cuts) >= 3:
                _scan_parts(reader, sheet, data, cuts, names)
                return
    _scan_rows(reader, sheet, data, pos, end, names)


def _scan_parts(reader: "_Reader", sheet: SheetData, data: bytes, cuts: list[int],
                names: _Names) -> None:
    """Read the stretches data[cuts[i]:cuts[i + 1]]: the first here, each other one by a
    forked process (_scan_part), joined in order (_join_part); a stretch whose process
    fails is read here."""
    import multiprocessing

    # imported before the fork: a child never takes the import lock (another thread of a
    # host application could have held it when forking)
    from ..scheduler import worker  # noqa: F401
    ctx = multiprocessing.get_context("fork")
    _SPLIT_STATS["sheets"] += 1
    jobs = []
    try:
        for a, b in zip(cuts[1:-1], cuts[2:]):
            rx, tx = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_scan_part, args=(reader, data, a, b, tx), daemon=True)
            try:
                proc.start()
            except OSError:                     # cannot fork: read it here
                rx.close()
                tx.close()
                jobs.append((None, None, a, b))
                continue
            tx.close()
            jobs.append((proc, rx, a, b))
        state = _ScanState()
        t0 = time.monotonic()
        _scan_rows(reader, sheet, data, cuts[0], cuts[1], names, state)
        # a stretch takes the others about as long as the parent's took it: one that has
        # not come long after that (a process stuck) is read here instead of waited for
        deadline = time.monotonic() + max(_SPLIT_PATIENCE, 20 * (time.monotonic() - t0))
        for proc, rx, a, b in jobs:
            got = None
            if rx is not None:
                try:
                    if rx.poll(max(0.0, deadline - time.monotonic())):
                        got = rx.recv()
                except (EOFError, OSError):      # the process died
                    got = None
            _SPLIT_STATS["parts"] += 1
            if got is None:
                _SPLIT_STATS["read_here"] += 1
                _scan_rows(reader, sheet, data, a, b, names, state)
            else:
                _join_part(sheet, state, got)
    finally:
        for proc, rx, _a, _b in jobs:
            if rx is not None:
                rx.close()
            if proc is not None:
                if proc.is_alive():
                    proc.kill()
                proc.join()


def _cover_cols(active, rownum: int) -> set[int]:
    cols: set[int] = set()
    for r1, c1, r2, c2 in active:
        if r1 <= rownum <= r2:
            cols.update(range(c1, c2 + 1))
    return cols


def _inline_text(isel, T: str, R: str) -> str:
    parts = []
    for ch in isel:
        tg = ch.tag
        if tg == T:
            parts.append(ch.text or "")
        elif tg == R:
            for x in ch:
                if x.tag == T:
                    parts.append(x.text or "")
    return decode_xstring("".join(parts))


def _external_value(t: str | None, v: str | None, date1904: bool):
    if v is None:
        return None
    if t is None or t == "n":
        try:
            return float(v)
        except ValueError:
            return v if v.strip() else None
    if t == "b":
        return v.strip().lower() in ("1", "true")
    if t == "e":
        return _xl_error(v.strip())
    if t == "d":
        s = iso_to_serial(v, date1904)
        return v if s is None else s
    return decode_xstring(v)        # "str", "s", "inlineStr": the text itself


def _calc_settings(el) -> CalcSettings:
    cs = CalcSettings()
    cs.iterate = _bool_attr(el.get("iterate"))
    try:
        cs.max_iterations = int(el.get("iterateCount") or 100)
    except ValueError:
        pass
    try:
        cs.max_change = float(el.get("iterateDelta") or 0.001)
    except ValueError:
        pass
    cs.calc_mode = el.get("calcMode") or "auto"
    cs.full_calc_on_load = _bool_attr(el.get("fullCalcOnLoad"))
    return cs


# ---------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------

def _sniff_ole(path: str) -> errors.WorkbookError:
    """An OLE2 compound file: an encrypted OOXML package or a legacy .xls."""
    tail = b""
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            if _ENCRYPTED_MARK in tail + chunk:
                return errors.EncryptedWorkbookError(
                    path, "password-protected (encrypted) workbook")
            tail = chunk[-(len(_ENCRYPTED_MARK) - 1):]
    return errors.UnsupportedFormatError(path, "legacy .xls (BIFF) workbook; save it as .xlsx")


def _gb(n: float) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.1f} MB"


def _env_limit(name: str, default: float, scale: int = 1) -> float:
    """A size guard from the environment (XLEVAL_MAX_UNCOMPRESSED_MB, XLEVAL_MAX_RATIO), or
    `default` when unset."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        v = float(text)
    except ValueError:
        v = 0.0
    if not v > 0 or v == float("inf"):
        raise errors.XlevalError(f"{name}: expected a number above 0, not {text!r}")
    return v * scale


def _check_sizes(path: str, zf: zipfile.ZipFile, max_uncompressed: int,
                 max_ratio: float) -> None:
    total = 0
    names: set[str] = set()
    for info in zf.infolist():
        # two members of one name (as OPC part names: case and slashes aside): zip readers
        # disagree on which one counts (the loader, Excel, the writer copying parts)
        name = info.filename.replace("\\", "/").lower()
        if name in names:
            raise errors.CorruptWorkbookError(
                path, f"the zip archive holds two parts named {info.filename}")
        names.add(name)
        total += info.file_size
        if total > max_uncompressed:
            raise errors.WorkbookTooLargeError(
                path, f"uncompressed content exceeds the size limit of {_gb(max_uncompressed)}"
                " (possible decompression bomb; XLEVAL_MAX_UNCOMPRESSED_MB raises the limit)")
        if info.file_size > _RATIO_MIN_SIZE:
            ratio = info.file_size / info.compress_size if info.compress_size else float("inf")
            if ratio > max_ratio:
                raise errors.WorkbookTooLargeError(
                    path, f"part {info.filename} expands {ratio:.0f}-fold when decompressed "
                    f"(more than {max_ratio:g}; possible decompression bomb)")
    # The archive as a whole, against its real size on disk: the test above trusts each
    # part's declared compressed size, which a crafted zip can overstate (parts overlapping
    # one compressed stream), and misses many parts each under _RATIO_MIN_SIZE. The declared
    # uncompressed sizes bound what can be read (_BoundedReader); the file's size is real.
    size = os.path.getsize(path)
    if total > max(_RATIO_MIN_SIZE, max_ratio * size):
        raise errors.WorkbookTooLargeError(
            path, f"a {_gb(size)} file that inflates to {_gb(total)}, {total / size:.0f}-fold "
            f"(more than {max_ratio:g}; possible decompression bomb)")


def load_workbook(path: str, *, max_uncompressed: int | None = None,
                  max_ratio: float | None = None, workers: int = 1) -> WorkbookData:
    """Read an .xlsx/.xlsm workbook into a `WorkbookData`. With `workers` >= 2 (on Linux), a
    large sheet's rows are read by that many forked processes (see _scan_split).

    Decompression-bomb guards: at most `max_uncompressed` bytes of parts (default: the
    environment's XLEVAL_MAX_UNCOMPRESSED_MB megabytes, else 4 GB; real workbooks are far
    below), and no part above 10 MB nor the whole file expanding more than `max_ratio`-fold
    (default: XLEVAL_MAX_RATIO, else 200; real workbooks compress 5-20-fold).

    Raises `xleval.errors.WorkbookError` subclasses only (for any bad input): FileMissingError,
    UnsupportedFormatError, EncryptedWorkbookError, CorruptWorkbookError, WorkbookTooLargeError.
    """
    try:
        path = os.fspath(path)
    except TypeError as exc:
        raise errors.FileMissingError(str(path), "not a file path") from exc
    if not os.path.exists(path):
        raise errors.FileMissingError(path, "no such file")
    if os.path.isdir(path):
        raise errors.FileMissingError(path, "is a directory, not a workbook file")
    if not os.path.isfile(path):
        raise errors.FileMissingError(path, "not a regular file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise errors.FileMissingError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if not head:
        raise errors.CorruptWorkbookError(path, "empty file (0 bytes); not an Excel workbook")
    if head == _OLE_MAGIC:
        raise _sniff_ole(path)
    if max_uncompressed is None:
        max_uncompressed = int(_env_limit("XLEVAL_MAX_UNCOMPRESSED_MB", _MAX_UNCOMPRESSED,
                                          2**20))
    if max_ratio is None:
        max_ratio = _env_limit("XLEVAL_MAX_RATIO", _MAX_RATIO)

    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        if head.startswith(b"PK"):
            raise errors.CorruptWorkbookError(
                path, "damaged or truncated zip archive") from exc
        raise errors.UnsupportedFormatError(
            path, "not an Excel workbook (not a zip file)") from exc
    except NotImplementedError as exc:
        raise errors.UnsupportedFormatError(
            path, f"uses an unsupported zip feature ({exc})") from exc
    except MemoryError as exc:
        raise errors.WorkbookTooLargeError(path, "zip directory too large to read") from exc
    except Exception as exc:  # noqa: BLE001 - OSError, ValueError, EOFError, struct.error...
        raise errors.CorruptWorkbookError(path, f"damaged zip archive ({exc})") from exc

    # The loader allocates millions of small objects and frees none of them: the cyclic
    # garbage collector would only rescan them over and over (15-20% of the load time).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with zf:
            _check_sizes(path, zf, max_uncompressed, max_ratio)
            return _Reader(path, zf, max_uncompressed, max(1, int(workers))).load()
    except errors.WorkbookError:
        raise
    except zipfile.BadZipFile as exc:
        raise errors.CorruptWorkbookError(path, f"damaged zip archive ({exc})") from exc
    except (zlib.error, EOFError) as exc:
        raise errors.CorruptWorkbookError(
            path, "damaged zip archive (compressed data is invalid or truncated)") from exc
    except NotImplementedError as exc:
        raise errors.UnsupportedFormatError(
            path, f"uses an unsupported zip feature ({exc})") from exc
    except RuntimeError as exc:
        if "encrypted" in str(exc).lower() or "password" in str(exc).lower():
            raise errors.EncryptedWorkbookError(
                path, "zip entries are password-protected (encrypted)") from exc
        raise errors.CorruptWorkbookError(path, f"unreadable workbook ({exc})") from exc
    except MemoryError as exc:
        raise errors.WorkbookTooLargeError(path, "not enough memory to load the workbook") \
            from exc
    except etree.LxmlError as exc:
        raise errors.CorruptWorkbookError(path, f"malformed XML ({exc})") from exc
    except OSError as exc:
        raise errors.CorruptWorkbookError(path, f"cannot read the workbook ({exc})") from exc
    except Exception as exc:  # noqa: BLE001 - bad files must only raise WorkbookError
        raise errors.CorruptWorkbookError(
            path, f"unreadable workbook ({type(exc).__name__}: {exc})") from exc
    finally:
        if gc_was_enabled:
            if gc.get_freeze_count() == 0:
                # The objects made are long-lived: into the oldest generation at once (a
                # list splice), or the first young collection traverses them all (5% of
                # the load). Skipped when the application keeps objects frozen itself.
                gc.freeze()
                gc.unfreeze()
            gc.enable()
