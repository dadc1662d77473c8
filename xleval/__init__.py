"""xleval: recalculate Excel workbooks without Excel."""
from __future__ import annotations

from . import errors
from .functions.custom import function, unregister as unregister_function
from .model import Model, compile, load_model
from .values import XLError
from .workbook import Workbook, evaluate, load

__all__ = ["load", "Workbook", "evaluate", "errors", "XLError", "function",
           "unregister_function", "compile", "load_model", "Model"]
__version__ = "0.1.0"
