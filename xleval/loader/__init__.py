"""Reading .xlsx/.xlsm workbooks into the plain data model of `loader.model`."""
from __future__ import annotations

from .model import (CalcSettings, DefinedName, ExternalBook, FormulaCell, PivotDataField,
                    PivotItem, PivotTable, SheetData, Table, WorkbookData)
from .xlsx import load_workbook

__all__ = ["load_workbook", "WorkbookData", "SheetData", "FormulaCell", "Table",
           "ExternalBook", "DefinedName", "CalcSettings", "PivotTable", "PivotItem",
           "PivotDataField"]
