"""The loaded workbook: plain data, no behaviour. Produced by `loader.load_workbook`,
consumed by the graph builder, the evaluator and the writer."""
from __future__ import annotations

from dataclasses import dataclass, field


class FormulaCell:
    """One formula as stored in a cell.

    `text` is the formula without the leading '=' as written at `origin` (for a shared formula:
    the anchor cell's text and the anchor's position, so every cell of the group has the same
    relative (R1C1) shape without re-translating text). `kind` is 'normal', 'array' (CSE or
    dynamic array anchored here, covering `ref`), or 'dataTable' (what-if table, `ref` covered;
    `dt` holds the table's attributes r1, r2, dt2D, dtr, ca...). `dynamic`: the cell carries a
    dynamic-array marker (cm attribute).

    Immutable in practice. Nearly every formula is a plain one (kind 'normal', no ref, not
    dynamic), and there is one of these per formula cell: a plain one holds its text and
    origin only (48 B, against 80 B with every field), the others are a _FullFormulaCell,
    which FormulaCell(...) makes when given any other field."""

    __slots__ = ("text", "origin")
    kind = "normal"
    ref = None
    dynamic = False
    dt = None

    def __new__(cls, text: str, origin: tuple[int, int], kind: str = "normal",
                ref: tuple[int, int, int, int] | None = None, dynamic: bool = False,
                dt: dict | None = None):
        if kind == "normal" and ref is None and not dynamic and dt is None:
            self = object.__new__(FormulaCell)
        else:
            self = object.__new__(_FullFormulaCell)
            self.kind = kind
            self.ref = ref
            self.dynamic = dynamic
            self.dt = dt
        self.text = text
        self.origin = origin
        return self

    def _fields(self) -> tuple:
        return (self.text, self.origin, self.kind, self.ref, self.dynamic, self.dt)

    def __reduce__(self):
        return FormulaCell, self._fields()

    def __eq__(self, other):
        if not isinstance(other, FormulaCell):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None          # (as the dataclass it was: compared by value, not hashable)

    def __repr__(self) -> str:
        return ("FormulaCell(text={!r}, origin={!r}, kind={!r}, ref={!r}, dynamic={!r}, "
                "dt={!r})".format(*self._fields()))


class _FullFormulaCell(FormulaCell):
    """A FormulaCell with fields of its own beyond text and origin (see FormulaCell)."""

    __slots__ = ("kind", "ref", "dynamic", "dt")


@dataclass
class Table:
    """An Excel table (ListObject) for structured references."""
    name: str
    sheet: str
    ref: tuple[int, int, int, int]          # whole table incl. header and totals rows
    columns: list[str]
    header_rows: int = 1
    totals_rows: int = 0
    autofilter: tuple[int, int, int, int] | None = None   # its own filter, when it has criteria


@dataclass
class PivotItem:
    """One line (row or column) of a pivot table's body: an <i> of rowItems/colItems with
    its indexes resolved. `labels` are the items it shows, outermost first, as (cache field
    index, item value, custom caption or None); `data` is the data field whose values it
    holds; `kind` is 'data', a subtotal function ('default', 'sum', 'count'...), 'grand',
    'blank' (an empty spacer line) or 'header' (an outline label line with no values)."""
    kind: str
    labels: list[tuple[int, object, str | None]] = field(default_factory=list)
    data: int = 0


@dataclass
class PivotDataField:
    """A value field of a pivot table: its name as shown and its source cache field."""
    name: str
    field: int


@dataclass
class PivotTable:
    """A pivot table report as Excel last rendered it (the rendered cells are plain
    constants of the sheet; nothing here is recalculated). Read for GETPIVOTDATA, which maps
    field/item pairs to the cell of `ref` holding the value: row line k of `row_items` is
    sheet row ref[0] + first_data_row + k, column line j of `col_items` sheet column
    ref[1] + first_data_col + j. Field index -2 in `row_fields`/`col_fields` stands for the
    data fields ("Values")."""
    name: str
    sheet: str
    ref: tuple[int, int, int, int]           # body, report filter area excluded
    first_data_row: int
    first_data_col: int
    fields: list[str]                        # cache field names, by cache field index
    row_fields: list[int]
    col_fields: list[int]
    row_items: list[PivotItem]
    col_items: list[PivotItem]
    data_fields: list[PivotDataField]
    # report filters: (field, selected item as (value, caption), or None for all/several)
    page_fields: list[tuple[int, tuple[object, str | None] | None]] = field(
        default_factory=list)
    page_rows: int = 0                       # sheet rows the filter area takes above `ref`


@dataclass
class ExternalBook:
    """An external-link part: the linked workbook's target and Excel's cached values."""
    index: int                               # the N in [N]Sheet!A1 (1-based)
    target: str                              # as written in the relationship (path or URL)
    sheet_names: list[str] = field(default_factory=list)
    # sheet name -> {(row, col): value}
    values: dict[str, dict[tuple[int, int], object]] = field(default_factory=dict)
    # defined names in the linked workbook: name -> formula text (refersTo)
    names: dict[str, str] = field(default_factory=dict)
    part: str = ""                           # zip part, e.g. xl/externalLinks/externalLink1.xml


@dataclass
class SheetData:
    name: str
    index: int                               # 0-based position in the workbook
    part: str                                # zip part name, e.g. xl/worksheets/sheet1.xml
    # constants: {(row, col): value} with float/str/bool/XLError; blank cells are absent
    values: dict[tuple[int, int], object] = field(default_factory=dict)
    formulas: dict[tuple[int, int], FormulaCell] = field(default_factory=dict)
    # cached values of formula cells (and of cells covered by array formulas) as Excel saved
    cached: dict[tuple[int, int], object] = field(default_factory=dict)
    max_row: int = 0
    max_col: int = 0
    state: str = "visible"                   # visible / hidden / veryHidden
    hidden_rows: set[int] = field(default_factory=set)     # rows hidden (filtered included)
    filtered_rows: set[int] = field(default_factory=set)   # hidden rows inside the autoFilter
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # merged areas
    kind: str = "worksheet"                  # worksheet / chartsheet / dialogsheet / macrosheet
    # cells carrying a rich value (vm attribute): {(row, col): Entity or error}, as read
    # from the rich data parts (loader/richdata.py); the writer keeps their vm
    rich: dict[tuple[int, int], object] = field(default_factory=dict)


@dataclass
class CalcSettings:
    iterate: bool = False
    max_iterations: int = 100
    max_change: float = 0.001
    calc_mode: str = "auto"
    full_calc_on_load: bool = False


@dataclass
class DefinedName:
    name: str
    text: str                                # refersTo formula text without '='
    scope: int | None = None                 # sheet index (localSheetId) or None for workbook
    hidden: bool = False


@dataclass
class WorkbookData:
    path: str
    fmt: str                                 # 'xlsx' or 'xlsm'
    sheets: list[SheetData]
    names: list[DefinedName] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    externals: list[ExternalBook] = field(default_factory=list)
    pivots: list[PivotTable] = field(default_factory=list)
    date1904: bool = False
    calc: CalcSettings = field(default_factory=CalcSettings)
    application: str = ""                    # docProps/app.xml <Application> (Mac CHAR set)

    def sheet(self, name: str) -> SheetData:
        low = name.lower()
        for s in self.sheets:
            if s.name.lower() == low:
                return s
        raise KeyError(name)
