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


# The token regex. Names and unquoted sheet names may hold any character from U+00A0 to
# U+FFFF; that range makes the pattern slow to compile (~50-70 ms: the regex compiler walks
# all 65,000 code points of each of a dozen character classes, more under IGNORECASE). So
# the pattern is built twice from the same pieces: without the range for ASCII-only text
# (nearly every formula; compiled at import in about a millisecond) and with it, compiled
# on first use, for text with any non-ASCII character. On ASCII text the two match alike:
# the range adds no ASCII character that the classes do not already hold (under
# IGNORECASE it matches only the letters I, K and S of ASCII, through U+0130/U+0131, U+212A
# and U+017F, and every class with the range also holds \w or A-Za-z).
_WIDE = r"\u00a0-\uffff"     # regex escapes, as the pattern has always spelled them


def _token_source(wide: str) -> str:
    """The token regex source; `wide` is the range of non-ASCII characters allowed in
    names ('' for the ASCII-only pattern)."""
    # quoted names and strings: possessive runs, not one loop iteration per character,
    # whose backtracking state cost ~120 MB for a 1 MB string literal (same matches: a
    # run stops only at a quote, and backtracking into one could only end a match early)
    quoted = r"'(?:[^']++|'')++'"
    unq = rf"[\w.{wide}]+"                  # unquoted sheet name (letters, digits, _, .)
    prefix = rf"(?:(?:\[\d+\])?(?:{quoted}|{unq}(?::{unq})?)!|\[\d+\]!)"
    col = r"\$?[A-Za-z]{1,3}"
    row = r"\$?[0-9]{1,7}"
    cell = rf"{col}{row}"
    end = r"(?![\w.(\[\]\\?])"
    refbody = rf"(?:{cell}:{cell}|{cell}|{col}:{col}|{row}:{row}|\#REF!){end}"
    name = rf"[A-Za-z_\\{wide}][\w.\\?{wide}]*"
    return rf"""
    (?P<ws>[ \t\r\n]+)
  | (?P<str>"(?:[^"]++|"")*+")
  | (?P<ref>(?:{prefix})?{refbody})
  | (?P<err>\#(?:NULL!|DIV/0!|VALUE!|REF!|NAME\?|NUM!|N/A|GETTING_DATA|SPILL!|CALC!|BLOCKED!|CONNECT!|FIELD!|UNKNOWN!|BUSY!))
  | (?P<func>(?:_xlfn\.|_xlws\.|_xludf\.)*{name}\()
  | (?P<bool>(?:TRUE|FALSE)(?![\w.(\[]))
  | (?P<sref>(?:{prefix})?{name}\[|\[(?!\d+\]))
  | (?P<name>(?:{prefix})?{name})
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<op><>|<=|>=|[-+*/^&=<>%:,;(){{}}@#!])
    """


_FLAGS = re.VERBOSE | re.IGNORECASE
_ASCII_RE = re.compile(_token_source(""), _FLAGS)
_FULL_RE: re.Pattern | None = None


def token_regex(text: str) -> re.Pattern:
    """The compiled token regex to use on `text` (its `match(text, pos)` gives one token,
    named by `lastgroup`): the ASCII pattern when the text is ASCII (str.isascii is O(1)),
    else the full pattern, compiled the first time it is needed."""
    global _FULL_RE
    if text.isascii():
        return _ASCII_RE
    if _FULL_RE is None:
        _FULL_RE = re.compile(_token_source(_WIDE), _FLAGS)
    return _FULL_RE



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
    match = token_regex(text).match
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
