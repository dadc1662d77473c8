"""Outputs: recalculated values written back into a workbook copy, or as tables."""
from .tabular import to_frame, write_csv, write_json
from .xlsx import resolve_sheet_parts, write_values

__all__ = ["write_values", "resolve_sheet_parts", "to_frame", "write_csv", "write_json"]
