"""Excel's function library: native implementations grouped by Excel category, with the
`formulas` package's implementations behind one adapter for the long tail."""
from __future__ import annotations

import importlib

from .registry import REGISTRY, FunctionSpec, lookup

CATEGORIES = ("math", "statistical", "logical", "text", "lookup", "datetime", "financial",
              "information", "engineering", "database", "web")

_loaded = False


def load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for cat in CATEGORIES:
        try:
            importlib.import_module(f"{__name__}.{cat}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{cat}":
                raise


def lookup_function(name: str) -> FunctionSpec | None:
    """The implementation of an Excel function: native first, then the formulas adapter."""
    load_all()
    spec = REGISTRY.get(name)
    if spec is not None:
        return spec
    try:
        from .adapter import formulas_function
    except ModuleNotFoundError as e:
        if e.name and e.name.endswith("adapter"):
            return None
        raise
    return formulas_function(name)
