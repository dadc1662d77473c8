"""Element names of the workbook's XML parts, namespace left out: the loader and the
rich data and pivot table readers match elements by local name, whatever prefix or
namespace version a producer wrote."""
from __future__ import annotations


def local(tag) -> str:
    """An element's name without its namespace; "" for comments and processing
    instructions (whose tag is not a string)."""
    if not isinstance(tag, str):
        return ""
    i = tag.rfind("}")
    return tag[i + 1:] if i >= 0 else tag


def children(el, name: str) -> list:
    """The children of `el` named `name` ([] for no element)."""
    return [x for x in el if local(x.tag) == name] if el is not None else []


def child(el, name: str):
    """The first child of `el` named `name`, or None."""
    for x in (el if el is not None else ()):
        if local(x.tag) == name:
            return x
    return None
