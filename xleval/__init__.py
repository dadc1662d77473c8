"""xleval: recalculate Excel workbooks without Excel.

The names below are imported on first use (PEP 562): `import xleval` alone loads nothing
heavy, so the command line can set up the process (xleval/cli.py) before numpy loads."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from . import errors

if TYPE_CHECKING:                       # (for type checkers and editors)
    from .functions.custom import function, unregister as unregister_function
    from .model import Model, compile, load_model
    from .values import XLError
    from .workbook import Workbook, evaluate, load

# public name -> (module, attribute)
_LAZY = {
    "load": (".workbook", "load"),
    "Workbook": (".workbook", "Workbook"),
    "evaluate": (".workbook", "evaluate"),
    "XLError": (".values", "XLError"),
    "function": (".functions.custom", "function"),
    "unregister_function": (".functions.custom", "unregister"),
    "compile": (".model", "compile"),
    "load_model": (".model", "load_model"),
    "Model": (".model", "Model"),
}

__all__ = ["load", "Workbook", "evaluate", "errors", "XLError", "function",
           "unregister_function", "compile", "load_model", "Model"]
__version__ = "0.1.0"


def __getattr__(name: str):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'xleval' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), attr)
    globals()[name] = value             # (found directly from now on)
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
