"""Excel formula tokenizer: one regex pass over the text.

Tokens are (kind, text) pairs. Kinds: 'num', 'str', 'bool', 'err', 'ref' (a cell, area,
whole-column or whole-row reference, optionally sheet/book-qualified), 'name' (a defined name,
optionally qualified), 'sref' (a structured reference such as Table1[[#This Row],[Col]]),
'func' (a function name; the '(' is consumed with it), 'op' (operators and punctuation:
+ - * / ^ & = <> <= >= < > % : , ; ( ) { } @ #), 'isect' (whitespace that is the
intersection operator).
"""
from __future__ import annotations

import re

from ..errors import XlevalError


class FormulaSyntaxError(XlevalError):
    """The formula text does not follow Excel's grammar."""


_QUOTED = r"'(?:[^']|'')+'"
_UNQ = r"[\w.\u00a0-\uffff]+"          # unquoted sheet name (letters, digits, _, .)
_PREFIX = (rf"(?:(?:\[\d+\])?(?:{_QUOTED}|{_UNQ}(?::{_UNQ})?)!|\[\d+\]!)")
_COL = r"\$?[A-Za-z]{1,3}"
_ROW = r"\$?[0-9]{1,7}"
_CELL = rf"{_COL}{_ROW}"
_END = r"(?![\w.(\[\]\\?])"
_REFBODY = (rf"(?:{_CELL}:{_CELL}|{_CELL}|{_COL}:{_COL}|{_ROW}:{_ROW}|\#REF!){_END}")
_NAME = r"[A-Za-z_\\\u00a0-\uffff][\w.\\?\u00a0-\uffff]*"

_TOKEN_RE = re.compile(
    rf"""
    (?P<ws>[ \t\r\n]+)
  | (?P<str>"(?:[^"]|"")*")
  | (?P<ref>(?:{_PREFIX})?{_REFBODY})
  | (?P<err>\#(?:NULL!|DIV/0!|VALUE!|REF!|NAME\?|NUM!|N/A|GETTING_DATA|SPILL!|CALC!|BLOCKED!|CONNECT!|FIELD!|UNKNOWN!|BUSY!))
  | (?P<func>(?:_xlfn\.|_xlws\.|_xludf\.)*{_NAME}\()
  | (?P<bool>(?:TRUE|FALSE)(?![\w.(\[]))
  | (?P<sref>(?:{_PREFIX})?{_NAME}\[|\[(?!\d+\]))
  | (?P<name>(?:{_PREFIX})?{_NAME})
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<op><>|<=|>=|[-+*/^&=<>%:,;(){{}}@#!])
    """,
    re.VERBOSE | re.IGNORECASE,
)

_REFLIKE_END = {"ref", "name", "sref"}
_REFLIKE_START = {"ref", "name", "sref", "func"}


def _structured_end(text: str, start: int) -> int:
    """Index just past the ']' that closes the '[' at text[start-1] (balanced, with the
    structured-reference escape character ')."""
    depth = 1
    i = start
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "'":
            i += 2
            continue
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise FormulaSyntaxError("unbalanced '[' in structured reference")


def tokenize(text: str) -> list[tuple[str, str]]:
    """Split formula text (without the leading '=') into tokens."""
    out: list[tuple[str, str]] = []
    pos = 0
    n = len(text)
    pending_ws = False
    match = _TOKEN_RE.match
    while pos < n:
        m = match(text, pos)
        if m is None:
            raise FormulaSyntaxError(f"unexpected character {text[pos]!r} at {pos + 1}")
        kind = m.lastgroup
        end = m.end()
        if kind == "ws":
            pending_ws = True
            pos = end
            continue
        tok = text[pos:end]
        if kind == "sref":
            end = _structured_end(text, end)
            tok = text[pos:end]
        if pending_ws:
            pending_ws = False
            if out and (out[-1][0] in _REFLIKE_END or out[-1] == ("op", ")")) and (
                    kind in _REFLIKE_START or tok == "("):
                out.append(("isect", " "))
        out.append((kind, tok))
        pos = end
    return out
