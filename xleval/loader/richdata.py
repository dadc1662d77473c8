"""Rich values (linked data types, rich errors) of an .xlsx workbook.

A cell holding a rich value is stored as `<c r="A9" t="e" vm="6"><v>#VALUE!</v></c>`: the
value Excel versions without rich data see is the fallback #VALUE!; `vm` is a 1-based index
into xl/metadata.xml's <valueMetadata> blocks, whose <rc t= v=> record of the metadata type
named XLRICHVALUE points (v, 0-based) to a <futureMetadata name="XLRICHVALUE"> block whose
<xlrd:rvb i=N/> is rich value N of xl/richData/rdrichvalue.xml. A rich value <rv s=S> lists
its <v> values in the order of the keys of structure S in rdrichvaluestructure.xml
(<s t=type><k n=name t=keytype/>...); key types: n (number, the default), i (integer),
b, e (error), s (text), r (another rich value), a (an array of rdarray.xml), spb (a
supporting property bag: formatting and attribution, not data).

What the engine gets (see values.Entity):
  _linkedentity / _linkedentity2 / ...core / _entity   Entity with its data fields. A
      _linkedentity points to its core value by %cvi; a _linkedentity2 cell value carries
      only its id and display text, the fields being in the _linkedentity2core value of the
      same %EntityId (when the file has one; otherwise an Entity without fields).
  _formattednumber                                      its fallback number (<fb>)
  _array                                                an Array of the element values
  _error                                                the error its errorType names
                                                        (#SPILL!, #CALC!, #FIELD!...)
  anything else (web images, hyperlinks...)            an Entity without fields

Nothing here may break a load: a missing or malformed part leaves the cells their cached
values (`read_rich_values` returns {} or skips the values it cannot read).
"""
from __future__ import annotations

import re
from typing import Callable

from ..values import Array, Entity, XLError, error
from .xmltags import children as _children, local as _local

# errorType of the _error structure -> error code. Excel's error enumeration (0 #NULL! ...
# 6 #N/A, as in the BIFF/XLSB error codes renumbered from 0) followed by the dynamic-array
# era errors; 8 #SPILL! is confirmed by the #SPILL! rich error Excel saved for a blocked
# UNIQUE in sheetjs/metadata_2019.xlsx, 2 #VALUE! by the errors with argument data in
# formulas/test.xlsx (cached #VALUE!).
ERROR_TYPES = {0: "#NULL!", 1: "#DIV/0!", 2: "#VALUE!", 3: "#REF!", 4: "#NAME?", 5: "#NUM!",
               6: "#N/A", 7: "#GETTING_DATA", 8: "#SPILL!", 9: "#CONNECT!", 10: "#BLOCKED!",
               11: "#UNKNOWN!", 12: "#FIELD!", 13: "#CALC!", 14: "#BUSY!"}

_ENTITY_TYPES = frozenset({"_linkedentity", "_linkedentity2", "_linkedentitycore",
                           "_linkedentity2core", "_entity"})
_REL_RV = "/rdrichvalue"
_REL_STRUCT = "/rdrichvaluestructure"
_REL_ARRAY = "/rdarray"
_CELL_TAG_RE = re.compile(rb"<(?:[\w.\-]+:)?c(\s[^>]*)>")
_R_ATTR_RE = re.compile(rb"(?:^|\s)r\s*=\s*[\"']\$?([A-Za-z]{1,3})\$?([0-9]+)[\"']")
_VM_ATTR_RE = re.compile(rb"\svm\s*=\s*[\"']([0-9]+)[\"']")


class _RichData:
    """The parsed rich data parts, resolving rich values to engine values on demand."""

    def __init__(self, structures: list[tuple[str, list[tuple[str, str]]]],
                 values: list[tuple[int, list[str | None], tuple[str, str | None] | None]],
                 arrays: list[tuple[int, int, list[tuple[str, str | None]]]]):
        self.structures = structures
        self.values = values
        self.arrays = arrays
        self.memo: dict[int, object] = {}
        self.busy: set[int] = set()
        self._cores: dict[str, int] | None = None

    # -- raw access ----------------------------------------------------------------------

    def keys_of(self, i: int) -> list[tuple[str, str, str | None]]:
        """(key name, key type, value text) of rich value i; [] when it cannot be read."""
        if not 0 <= i < len(self.values):
            return []
        s, vals, _fb = self.values[i]
        if not 0 <= s < len(self.structures):
            return []
        keys = self.structures[s][1]
        return [(n, t, v) for (n, t), v in zip(keys, vals)]

    def type_of(self, i: int) -> str:
        if not 0 <= i < len(self.values):
            return ""
        s = self.values[i][0]
        return self.structures[s][0] if 0 <= s < len(self.structures) else ""

    def cores(self) -> dict[str, int]:
        """%EntityId -> index of the core value holding that entity's fields."""
        if self._cores is None:
            self._cores = {}
            for i in range(len(self.values)):
                if self.type_of(i) in ("_linkedentity2core", "_linkedentitycore"):
                    for n, _t, v in self.keys_of(i):
                        if n == "%EntityId" and v:
                            self._cores.setdefault(v, i)
        return self._cores

    # -- conversion ----------------------------------------------------------------------

    def scalar(self, t: str, text: str | None):
        """A key's or array element's value from its type and text."""
        if t == "r" or t == "a":
            try:
                n = int(text or "")
            except ValueError:
                return None
            return self.value(n) if t == "r" else self.array(n)
        text = text or ""
        if t == "s":
            return text
        if t == "b":
            return text.strip().lower() in ("1", "true")
        if t == "e":
            return error(text.strip() or "#VALUE!")
        try:
            return float(text)      # n (the default), i
        except ValueError:
            return text if t not in ("n", "i", "d", "") else None

    def array(self, n: int):
        if not 0 <= n < len(self.arrays):
            return None
        rows, cols, items = self.arrays[n]
        vals = [self.scalar(t, v) for t, v in items]
        if cols < 1 or rows < 1 or rows * cols != len(vals):
            rows, cols = len(vals), 1
        if not vals:
            return None
        return Array([vals[r * cols:(r + 1) * cols] for r in range(rows)])

    def value(self, i: int):
        """The engine value of rich value i (None when it cannot be read)."""
        if i in self.memo:
            return self.memo[i]
        if i in self.busy or not 0 <= i < len(self.values):
            return None
        self.busy.add(i)
        try:
            v = self._convert(i)
        finally:
            self.busy.discard(i)
        self.memo[i] = v
        return v

    def _convert(self, i: int):
        typ = self.type_of(i)
        keys = self.keys_of(i)
        if typ == "_error":
            kv = {n: v for n, _t, v in keys}
            try:
                code = ERROR_TYPES.get(int(kv.get("errorType") or ""))
            except ValueError:
                code = None
            return error(code) if code else None
        if typ == "_formattednumber" or (typ not in _ENTITY_TYPES and typ != "_array"
                                         and self.values[i][2] is not None):
            fb = self.values[i][2]
            return self.scalar(fb[0], fb[1]) if fb is not None else None
        if typ == "_array":
            for n, t, v in keys:
                if t == "a":
                    return self.scalar("a", v)
            return None
        if typ in _ENTITY_TYPES:
            return self._entity(i, typ, keys)
        text = ""
        for n, t, v in keys:
            if n in ("Text", "_DisplayString") and t == "s":
                text = v or ""
        return Entity(text, None, typ, i)

    def _entity(self, i: int, typ: str, keys: list[tuple[str, str, str | None]]) -> Entity:
        kv = {n: (t, v) for n, t, v in keys}
        display = (kv.get("_DisplayString") or ("", ""))[1] or ""
        source = keys
        if typ == "_linkedentity":
            cvi = kv.get("%cvi")
            core = self.value(int(cvi[1])) if cvi and (cvi[1] or "").isdigit() else None
            if isinstance(core, Entity):
                return Entity(core.display or display, dict(core.fields), typ, i)
            return Entity(display, None, typ, i)
        if typ == "_linkedentity2":
            eid = (kv.get("%EntityId") or ("", ""))[1]
            c = self.cores().get(eid or "") if eid else None
            source = self.keys_of(c) if c is not None and c != i else []
            if source:
                cd = {n: v for n, _t, v in source}
                display = display or cd.get("_DisplayString") or ""
        fields = {}
        for n, t, v in source:
            # '_' keys are Excel's own (display, format, provider), '%' keys internal ids;
            # property bags (spb) carry formatting and attribution, not data
            if not n or n[0] in "_%" or t == "spb":
                continue
            fields[n] = self.scalar(t, v)
        return Entity(display, fields, typ, i)


def _parse_structures(root) -> list[tuple[str, list[tuple[str, str]]]]:
    return [(s.get("t") or "", [(k.get("n") or "", k.get("t") or "n")
                                for k in _children(s, "k")])
            for s in _children(root, "s")]


def _parse_values(root) -> list[tuple[int, list[str | None], tuple[str, str | None] | None]]:
    out = []
    for rv in _children(root, "rv"):
        try:
            s = int(rv.get("s") or "-1")
        except ValueError:
            s = -1
        vals: list[str | None] = []
        fb = None
        for x in rv:
            ln = _local(x.tag)
            if ln == "v":
                vals.append(x.text)
            elif ln == "fb":
                fb = (x.get("t") or "n", x.text)
        out.append((s, vals, fb))
    return out


def _parse_arrays(root) -> list[tuple[int, int, list[tuple[str, str | None]]]]:
    out = []
    for a in _children(root, "a"):
        try:
            rows, cols = int(a.get("r") or "1"), int(a.get("c") or "1")
        except ValueError:
            rows, cols = 0, 0
        out.append((rows, cols, [(v.get("t") or "n", v.text) for v in _children(a, "v")]))
    return out


def _value_metadata(root) -> list[int | None]:
    """Per valueMetadata block (vm - 1): the rich value index it points to, or None."""
    types = []
    rvbs: list[int | None] = []
    blocks = []
    for el in root:
        ln = _local(el.tag)
        if ln == "metadataTypes":
            types = [t.get("name") or "" for t in _children(el, "metadataType")]
        elif ln == "futureMetadata" and el.get("name") == "XLRICHVALUE":
            for bk in _children(el, "bk"):
                i = None
                for x in bk.iter():
                    if _local(x.tag) == "rvb":
                        try:
                            i = int(x.get("i") or "")
                        except ValueError:
                            i = None
                        break
                rvbs.append(i)
        elif ln == "valueMetadata":
            blocks = _children(el, "bk")
    out: list[int | None] = []
    for bk in blocks:
        target = None
        for rc in _children(bk, "rc"):
            try:
                t, v = int(rc.get("t") or "0"), int(rc.get("v") or "-1")
            except ValueError:
                continue
            if 1 <= t <= len(types) and types[t - 1] == "XLRICHVALUE" and 0 <= v < len(rvbs):
                target = rvbs[v]
                break
        out.append(target)
    return out


def read_rich_values(parse: Callable, find: Callable, rel_parts: list[tuple[str, str]],
                     meta_part: str | None) -> dict[int, object]:
    """{vm (1-based valueMetadata index): engine value} for the workbook, {} when it has no
    rich values or they cannot be read. `parse(part)` returns a part's XML root, `find`
    resolves a part name, `rel_parts` is the workbook's (relationship type, part) list."""
    if meta_part is None:
        return {}
    parts = {}
    for typ, part in rel_parts:
        low = typ.lower()
        for key in (_REL_RV, _REL_STRUCT, _REL_ARRAY):
            if low.endswith(key) and part:
                parts[key] = part
    if _REL_RV not in parts or _REL_STRUCT not in parts:
        # the usual names, should the relationships be missing
        for key, name in ((_REL_RV, "xl/richData/rdrichvalue.xml"),
                          (_REL_STRUCT, "xl/richData/rdrichvaluestructure.xml"),
                          (_REL_ARRAY, "xl/richData/rdarray.xml")):
            if key not in parts and find(name):
                parts[key] = find(name)
    if _REL_RV not in parts or _REL_STRUCT not in parts:
        return {}
    try:
        vm_to_rv = _value_metadata(parse(meta_part))
        if not any(x is not None for x in vm_to_rv):
            return {}
        structures = _parse_structures(parse(parts[_REL_STRUCT]))
        values = _parse_values(parse(parts[_REL_RV]))
        arrays = _parse_arrays(parse(parts[_REL_ARRAY])) if _REL_ARRAY in parts else []
    except Exception:  # noqa: BLE001 - rich data is optional: never fail a load on it
        return {}
    rd = _RichData(structures, values, arrays)
    out: dict[int, object] = {}
    for vm, i in enumerate(vm_to_rv, start=1):
        if i is None:
            continue
        try:
            v = rd.value(i)
        except Exception:  # noqa: BLE001 - one unreadable value keeps its cached fallback
            continue
        if v is not None:
            out[vm] = v
    return out


def rich_cells(data: bytes) -> dict[tuple[int, int], int]:
    """{(row, col): vm} for the cells of sheet XML `data` that carry a vm attribute."""
    from ..refs import col_to_num
    out: dict[tuple[int, int], int] = {}
    for m in _CELL_TAG_RE.finditer(data):
        attrs = m.group(1)
        if b"vm" not in attrs:
            continue
        rm = _R_ATTR_RE.search(attrs)
        vm = _VM_ATTR_RE.search(attrs)
        if rm is None or vm is None:
            continue
        col = col_to_num(rm.group(1).decode("ascii").upper())
        out[(int(rm.group(2)), col)] = int(vm.group(1))
    return out


def is_rich_error(v) -> bool:
    """Whether a rich value is an error proper (not an entity shown as #VALUE!)."""
    return isinstance(v, XLError) and not isinstance(v, Entity)
