"""What-if data tables ({=TABLE(,A1)}): each result is the table's formula recalculated
with the input cell set to that row's value. Values derived by hand."""
from __future__ import annotations

from test_spill_edges import _book


def _table_book(tmp_path, extra: dict | None = None):
    # A1 the input; E1 = 10*A1 + VLOOKUP(2, H1:I3, 2) where I = H*A1 (a lookup over cells
    # that change with the input: its index must not outlive one table cell); the table
    # E2:E4 takes A1 from D2:D4 = 1, 2, 3; F1:F300 are formulas the input does not reach
    cells = {"A1": 2, "B1": ("f", "A1*10"), "D2": 1, "D3": 2, "D4": 3,
             "E1": ("f", "B1+VLOOKUP(2,H1:I3,2,FALSE)"), "E2": ("dt", "", "E2:E4"),
             **{f"H{i}": i for i in (1, 2, 3)},
             **{f"I{i}": ("f", f"H{i}*A1") for i in (1, 2, 3)},
             **{f"F{i}": ("f", f"ROW()*2") for i in range(1, 301)}}
    cells.update(extra or {})
    return _book(tmp_path, cells)


def test_column_data_table(tmp_path):
    wb = _table_book(tmp_path)
    wb.calculate()
    # [hand] E = 10*A1 + 2*A1 = 12*A1 for A1 = 1, 2, 3; the sheet itself keeps A1 = 2
    assert [wb[f"S!E{i}"] for i in range(1, 5)] == [24.0, 12.0, 24.0, 36.0]
    assert wb["S!A1"] == 2.0 and wb["S!I3"] == 6.0 and wb["S!F300"] == 600.0
    wb.set_value("S!D3", 5)
    wb.calculate()
    assert [wb[f"S!E{i}"] for i in range(1, 5)] == [24.0, 12.0, 60.0, 36.0]
