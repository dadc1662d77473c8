"""xleval: recalculate Excel workbooks without Excel."""
from __future__ import annotations

from . import errors
from .values import XLError
from .workbook import Workbook, evaluate, load

__all__ = ["load", "Workbook", "evaluate", "errors", "XLError"]
__version__ = "0.1.0"
