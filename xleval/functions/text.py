"""Excel's Text functions.

Strings are measured the way Excel measures them: in UTF-16 code units (an emoji is two
characters for LEN, LEFT, MID, FIND...). A text result longer than 32,767 characters is
#VALUE!. The -B variants (LENB, MIDB...) behave like the plain ones, as in an English locale.
"""
from __future__ import annotations

import re

from .. import values as V
from ..evaluator.refs import Range, RefList
from ..values import Array, XLError
from . import numfmt
from .criteria import wildcard_regex
from .registry import (ANY, ARRAY, BOOL, INT, NUMBER, RAW, SCALAR, TEXT, VALUES, xl)

MAX_TEXT = 32767
_NOT_GIVEN = object()


# ---------------------------------------------------------------------------------------
# UTF-16 helpers
# ---------------------------------------------------------------------------------------

def _bmp(s: str) -> bool:
    return not s or max(s) < "\U00010000"


def ulen(s: str) -> int:
    """Length in UTF-16 code units (Excel's LEN)."""
    if _bmp(s):
        return len(s)
    return len(s.encode("utf-16-le")) // 2


def uslice(s: str, a: int, b: int | None = None) -> str:
    """s[a:b] counted in UTF-16 code units; a half of a surrogate pair becomes U+FFFD."""
    if _bmp(s):
        return s[a:b]
    raw = s.encode("utf-16-le")
    part = raw[2 * a:None if b is None else 2 * b]
    return part.decode("utf-16-le", errors="replace")


def _cp_index(s: str, units: int) -> int:
    """The code point index at a UTF-16 unit offset."""
    if _bmp(s):
        return units
    n = 0
    for i, ch in enumerate(s):
        if n >= units:
            return i
        n += 2 if ord(ch) > 0xFFFF else 1
    return len(s)


def _units_before(s: str, idx: int) -> int:
    return ulen(s[:idx])


def _cap(s: str):
    return V.VALUE if len(s) > MAX_TEXT else s


def _text_of(v):
    """A value met inside a range or array as text (errors raise)."""
    if isinstance(v, XLError):
        raise v
    if v is None:
        return ""
    return V.to_text(v)


def _flat_values(cx, a):
    """The values of an argument (reference, array or scalar) in row-major order."""
    if isinstance(a, Range):
        yield from cx.ev.ref_array(a).flat()
    elif isinstance(a, RefList):
        for area in a.areas:
            yield from cx.ev.ref_array(area).flat()
    elif isinstance(a, Array):
        yield from a.flat()
    else:
        yield a


# ---------------------------------------------------------------------------------------
# LEFT / RIGHT / MID / LEN / FIND / SEARCH / REPLACE / SUBSTITUTE
# ---------------------------------------------------------------------------------------

@xl("LEFT", TEXT, INT, aliases=("LEFTB",))
def LEFT(text, num_chars=1):
    if num_chars < 0:
        return V.VALUE
    return uslice(text, 0, num_chars)


@xl("RIGHT", TEXT, INT, aliases=("RIGHTB",))
def RIGHT(text, num_chars=1):
    if num_chars < 0:
        return V.VALUE
    if num_chars == 0:
        return ""
    n = ulen(text)
    return uslice(text, max(0, n - num_chars))


@xl("MID", TEXT, INT, INT, aliases=("MIDB",))
def MID(text, start_num, num_chars):
    if start_num < 1 or num_chars < 0:
        return V.VALUE
    return uslice(text, start_num - 1, start_num - 1 + num_chars)


@xl("LEN", TEXT, aliases=("LENB",))
def LEN(text):
    return float(ulen(text))


def _start_index(within: str, start_num: int, find: str):
    n = ulen(within)
    if start_num < 1 or start_num > n + 1 or (start_num == n + 1 and find != "" and n > 0):
        raise V.VALUE
    return _cp_index(within, start_num - 1)


@xl("FIND", TEXT, TEXT, INT, aliases=("FINDB",))
def FIND(find_text, within_text, start_num=1):
    i0 = _start_index(within_text, start_num, find_text)
    idx = within_text.find(find_text, i0)
    if idx < 0:
        return V.VALUE
    return float(_units_before(within_text, idx) + 1)


@xl("SEARCH", TEXT, TEXT, INT, aliases=("SEARCHB",))
def SEARCH(find_text, within_text, start_num=1):
    i0 = _start_index(within_text, start_num, find_text)
    m = wildcard_regex(find_text).search(within_text, i0)
    if m is None:
        return V.VALUE
    return float(_units_before(within_text, m.start()) + 1)


@xl("REPLACE", TEXT, INT, INT, TEXT, aliases=("REPLACEB",))
def REPLACE(old_text, start_num, num_chars, new_text):
    if start_num < 1 or num_chars < 0:
        return V.VALUE
    a = start_num - 1
    return _cap(uslice(old_text, 0, a) + new_text + uslice(old_text, a + num_chars))


@xl("SUBSTITUTE", TEXT, TEXT, TEXT, SCALAR)
def SUBSTITUTE(text, old_text, new_text, instance_num=_NOT_GIVEN):
    if instance_num is _NOT_GIVEN:
        if old_text == "":
            return text
        return _cap(text.replace(old_text, new_text))
    if isinstance(instance_num, bool):
        return V.VALUE          # (Excel-saved corpus: a logical instance_num is #VALUE!)
    n = V.to_number(instance_num)
    if isinstance(n, XLError):
        return n
    instance_num = int(n) if n >= 0 else -int(-n)
    if instance_num < 1:
        return V.VALUE
    if old_text == "":
        return text
    pos = -1
    start = 0
    for _ in range(instance_num):
        pos = text.find(old_text, start)
        if pos < 0:
            return text
        start = pos + len(old_text)
    return _cap(text[:pos] + new_text + text[pos + len(old_text):])


# ---------------------------------------------------------------------------------------
# cleaning and case
# ---------------------------------------------------------------------------------------

_SPACES = re.compile(" {2,}")


@xl("TRIM", TEXT)
def TRIM(text):
    return _SPACES.sub(" ", text.strip(" "))


@xl("CLEAN", TEXT)
def CLEAN(text):
    if all(ord(c) >= 32 for c in text):
        return text
    return "".join(c for c in text if ord(c) >= 32)


def _map_case(text: str, upper: bool) -> str:
    if text.isascii():
        return text.upper() if upper else text.lower()
    out = []
    for c in text:
        m = c.upper() if upper else c.lower()
        out.append(m if len(m) == 1 else c)
    return "".join(out)


@xl("UPPER", TEXT)
def UPPER(text):
    return _map_case(text, True)


@xl("LOWER", TEXT)
def LOWER(text):
    return _map_case(text, False)


@xl("PROPER", TEXT)
def PROPER(text):
    out = []
    prev_letter = False
    for c in text:
        if c.isalpha():
            m = c.lower() if prev_letter else c.upper()
            out.append(m if len(m) == 1 else c)
            prev_letter = True
        else:
            out.append(c)
            prev_letter = False
    return "".join(out)


# ---------------------------------------------------------------------------------------
# joining
# ---------------------------------------------------------------------------------------

@xl("CONCATENATE", TEXT)
def CONCATENATE(*texts):
    return _cap("".join(texts))


@xl("CONCAT", VALUES, ctx=True)
def CONCAT(cx, args):
    parts = []
    total = 0
    for a in args:
        for v in _flat_values(cx, a):
            s = _text_of(v)
            total += len(s)
            if total > MAX_TEXT:
                return V.VALUE
            parts.append(s)
    return "".join(parts)


@xl("TEXTJOIN", RAW, BOOL, VALUES, ctx=True)
def TEXTJOIN(cx, delimiter, ignore_empty, args):
    if isinstance(delimiter, XLError):
        return delimiter
    delims = [_text_of(v) for v in _flat_values(cx, delimiter)]
    if not delims:
        delims = [""]
    items = []
    for a in args:
        for v in _flat_values(cx, a):
            s = _text_of(v)
            if ignore_empty and s == "":
                continue
            items.append(s)
    out = []
    total = 0
    for i, s in enumerate(items):
        if i:
            d = delims[(i - 1) % len(delims)]
            out.append(d)
            total += len(d)
        out.append(s)
        total += len(s)
        if total > MAX_TEXT:
            return V.VALUE
    return "".join(out)


@xl("REPT", TEXT, INT)
def REPT(text, number_times):
    if number_times < 0:
        return V.VALUE
    if text == "":
        return ""
    if len(text) * number_times > MAX_TEXT:
        return V.VALUE
    return text * number_times


@xl("EXACT", TEXT, TEXT)
def EXACT(text1, text2):
    return text1 == text2


# ---------------------------------------------------------------------------------------
# character codes
# ---------------------------------------------------------------------------------------

def _cp1252_char(n: int) -> str:
    try:
        return bytes([n]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(n)        # 0x81, 0x8D, 0x8F, 0x90, 0x9D: Windows passes them through


_CP1252_CODE = {_cp1252_char(n): n for n in range(256)}
_MAC_CHARS = [bytes([n]).decode("mac_roman") for n in range(256)]
_MAC_CODE = {ch: n for n, ch in enumerate(_MAC_CHARS)}


def _mac(cx) -> bool:
    """CHAR and CODE use the platform's character set: Mac Roman in Excel for Mac (the
    application that saved the workbook, when the loader recorded it), else Windows-1252."""
    app = getattr(cx.ev.wb, "application", "") or ""
    return "macintosh" in app.lower()


@xl("CHAR", INT, ctx=True)
def CHAR(cx, number):
    if number < 1 or number > 255:
        return V.VALUE
    return _MAC_CHARS[number] if _mac(cx) else _cp1252_char(number)


@xl("CODE", TEXT, ctx=True)
def CODE(cx, text):
    if text == "":
        return V.VALUE
    table = _MAC_CODE if _mac(cx) else _CP1252_CODE
    return float(table.get(text[0], 63))


@xl("UNICHAR", INT)
def UNICHAR(number):
    if number < 1 or number > 0x10FFFF:
        return V.VALUE
    if 0xD800 <= number <= 0xDFFF:
        return V.NA
    return chr(number)


@xl("UNICODE", TEXT)
def UNICODE(text):
    if text == "":
        return V.VALUE
    return float(ord(text[0]))


# ---------------------------------------------------------------------------------------
# conversions
# ---------------------------------------------------------------------------------------

@xl("VALUE", SCALAR)
def VALUE(text):
    if text is None:
        return 0.0
    if isinstance(text, bool):
        return V.VALUE
    if isinstance(text, float):
        return text
    n = V.text_to_number(text) if isinstance(text, str) else None
    return V.VALUE if n is None else n


_NV_RE = re.compile(r"^[+-]?(\d*\.?\d*)(?:[eE][+-]?\d+)?$")


@xl("NUMBERVALUE", SCALAR, TEXT, TEXT)
def NUMBERVALUE(text, decimal_separator=".", group_separator=_NOT_GIVEN):
    if text is None:
        return 0.0
    if isinstance(text, bool):
        return V.VALUE
    if isinstance(text, float):
        return text
    given = group_separator is not _NOT_GIVEN
    if not given:
        group_separator = ","
    if decimal_separator == "" or group_separator == "":
        return V.VALUE
    dec = decimal_separator[0]
    grp = group_separator[0]
    if grp == dec:
        if given:
            return V.VALUE
        grp = None
    s = "".join(text.split())
    if s == "":
        return 0.0

    def strip_pct(t):
        n = 0
        while t.endswith("%"):
            n += 1
            t = t[:-1]
        return t, n

    s, pct = strip_pct(s)
    neg = False
    if s.startswith("(") and s.endswith(")"):
        neg = True
        s, more = strip_pct(s[1:-1])
        pct += more
    if s.count(dec) > 1:
        return V.VALUE
    di = s.find(dec)
    if grp is not None:
        if di >= 0 and grp in s[di + 1:]:
            return V.VALUE
        s = s.replace(grp, "")
    if dec != ".":
        if "." in s:
            return V.VALUE
        s = s.replace(dec, ".")
    if s in ("", ".", "+", "-") or not _NV_RE.match(s) or not any(ch.isdigit() for ch in s):
        return V.VALUE
    if neg and s[0] in "+-":
        return V.VALUE
    try:
        x = float(s)
    except ValueError:
        return V.VALUE
    x = x / (100 ** pct)
    return -x if neg else x


def first_value(cx, v):
    """N and T read the first cell of a reference (or the first element of an array)
    instead of intersecting or broadcasting."""
    if isinstance(v, RefList):
        v = v.areas[0]
    if isinstance(v, Range):
        return cx.ev.value_at(v.sheet, v.r1, v.c1)
    if isinstance(v, Array):
        return v.rows[0][0] if v.rows and v.rows[0] else None
    return v


@xl("T", RAW, ctx=True)
def T(cx, value):
    value = first_value(cx, value)
    if isinstance(value, XLError):
        return value
    return value if isinstance(value, str) else ""


def _date1904(cx) -> bool:
    return bool(getattr(cx.ev.wb, "date1904", False))


@xl("TEXT", SCALAR, TEXT, ctx=True)
def TEXT_(cx, value, format_text):
    if isinstance(value, str):
        n = V.text_to_number(value) if value.strip() else None
        if n is not None:
            value = n
    r = numfmt.format_number(value, format_text, _date1904(cx))
    return _cap(r)


def _round_half_up(x: float, places: int) -> float:
    return float(numfmt._round(numfmt._dec(x), places))


@xl("FIXED", NUMBER, INT, BOOL)
def FIXED(number, decimals=2, no_commas=False):
    if decimals is None:
        decimals = 0
    if decimals > 127:
        return V.VALUE
    x = _round_half_up(number, decimals)
    if x == 0:
        x = 0.0
    places = max(decimals, 0)
    fmt = ("0" if no_commas else "#,##0") + ("." + "0" * places if places else "")
    return numfmt.format_number(x, fmt)


@xl("DOLLAR", NUMBER, INT, aliases=("USDOLLAR",))
def DOLLAR(number, decimals=2):
    if decimals > 127:
        return V.VALUE
    x = _round_half_up(number, decimals)
    if x == 0:
        x = 0.0
    places = max(decimals, 0)
    body = "$#,##0" + ("." + "0" * places if places else "")
    return numfmt.format_number(x, f"{body};({body})")


# ---------------------------------------------------------------------------------------
# TEXTBEFORE / TEXTAFTER / TEXTSPLIT
# ---------------------------------------------------------------------------------------

def _delims(cx, arg) -> list[str]:
    if isinstance(arg, XLError):
        raise arg
    return [_text_of(v) for v in _flat_values(cx, arg)]


def _delim_regex(delims: list[str], ignore_case: bool):
    alts = sorted(set(delims), key=len, reverse=True)
    return re.compile("|".join(re.escape(d) for d in alts), re.I if ignore_case else 0)


def _find_nth(text: str, rx, n: int):
    """(start, end) of the n-th delimiter (negative: from the end) or None."""
    if n > 0:
        count = 0
        for m in rx.finditer(text):
            count += 1
            if count == n:
                return m.start(), m.end()
        return None
    count = 0
    end = len(text)
    while True:
        found = None
        for st in range(end, -1, -1):
            m = rx.match(text, st, end)
            if m is not None:
                found = m
                break
        if found is None:
            return None
        count += 1
        if count == -n:
            return found.start(), found.end()
        if found.start() == 0 and found.end() == 0:
            return None
        end = found.start() if found.end() > found.start() else found.start() - 1
        if end < 0:
            return None


def _elem(cx, v, blank):
    """A RAW argument prepared for element-wise use: None (omitted) stays None; a reference
    becomes its value (an Array in an array formula), blank cells becoming `blank`."""
    if v is None:
        return None
    if isinstance(v, RefList) and len(v.areas) == 1:
        v = v.areas[0]
    if isinstance(v, Range):
        if v.r1 == v.r2 and v.c1 == v.c2:
            x = cx.ev.value_at(v.sheet, v.r1, v.c1)
            return blank if x is None else x
        if cx.array_mode:
            v = cx.ev.ref_array(v)
        else:
            x = cx.ev.deref(v, cx)
            return blank if x is None else x
    elif isinstance(v, RefList):
        return V.VALUE
    if isinstance(v, Array):
        if v.nrows == 1 and v.ncols == 1:
            x = v.rows[0][0]
            return blank if x is None else x
        return v.map(lambda x: blank if x is None else x)
    return v


def _each(fn, args):
    """Call fn on the arguments, element by element when some are arrays."""
    arrays = [a for a in args if isinstance(a, Array)]
    if not arrays:
        return fn(*args)
    nr = max(a.nrows for a in arrays)
    nc = max(a.ncols for a in arrays)
    return Array([[fn(*[a.get(r, c) if isinstance(a, Array) else a for a in args])
                   for c in range(nc)] for r in range(nr)])


def _int_arg(x, default):
    if x is None:
        return default
    if isinstance(x, XLError):
        raise x
    n = V.to_number(x)
    if isinstance(n, XLError):
        raise n
    return int(n) if n >= 0 else -int(-n)


def _text_around(cx, text, delimiter, instance_num, match_mode, match_end, if_not_found,
                 before: bool):
    if isinstance(text, XLError):
        return text
    try:
        ds = _delims(cx, delimiter)
    except XLError as e:
        return e
    if not ds:
        return V.VALUE
    if if_not_found is _NOT_GIVEN or if_not_found is None:
        nf_arg = V.NA
    else:
        nf_arg = _elem(cx, if_not_found, None)
    regexes = {}

    def one(t, inst, mode, end, nf):
        try:
            if isinstance(t, XLError):
                return t
            t = V.to_text(t)
            inst = _int_arg(inst, 1)
            mode = _int_arg(mode, 0)
            end = _int_arg(end, 0)
        except XLError as e:
            return e
        if mode not in (0, 1) or end not in (0, 1):
            return V.VALUE
        if inst == 0 or (t and abs(inst) > len(t)):
            return V.VALUE
        rx = regexes.get(mode)
        if rx is None:
            rx = regexes[mode] = _delim_regex(ds, mode == 1)
        hit = _find_nth(t, rx, inst)
        if hit is None and end:
            # the end (or, searching backwards, the start) of the text is a delimiter too
            if inst > 0 and len(list(rx.finditer(t))) == inst - 1:
                hit = (len(t), len(t))
            elif inst < 0 and (inst == -1 or _find_nth(t, rx, inst + 1) is not None):
                hit = (0, 0)
        if hit is None:
            return nf
        a, b = hit
        return t[:a] if before else t[b:]

    return _each(one, [_elem(cx, text, ""), _elem(cx, instance_num, 0.0),
                       _elem(cx, match_mode, 0.0), _elem(cx, match_end, 0.0), nf_arg])


@xl("TEXTBEFORE", RAW, RAW, RAW, RAW, RAW, RAW, ctx=True)
def TEXTBEFORE(cx, text, delimiter, instance_num=None, match_mode=None, match_end=None,
               if_not_found=_NOT_GIVEN):
    return _text_around(cx, text, delimiter, instance_num, match_mode, match_end,
                        if_not_found, True)


@xl("TEXTAFTER", RAW, RAW, RAW, RAW, RAW, RAW, ctx=True)
def TEXTAFTER(cx, text, delimiter, instance_num=None, match_mode=None, match_end=None,
              if_not_found=_NOT_GIVEN):
    return _text_around(cx, text, delimiter, instance_num, match_mode, match_end,
                        if_not_found, False)


def _split(text: str, rx, ignore_empty: bool) -> list[str]:
    if rx is None:
        parts = [text]
    else:
        parts = rx.split(text)
    if ignore_empty:
        parts = [p for p in parts if p != ""]
    return parts


@xl("TEXTSPLIT", TEXT, RAW, RAW, BOOL, INT, RAW, ctx=True)
def TEXTSPLIT(cx, text, col_delimiter=None, row_delimiter=None, ignore_empty=False,
              match_mode=0, pad_with=_NOT_GIVEN):
    if match_mode not in (0, 1):
        return V.VALUE
    if col_delimiter is None and row_delimiter is None:
        return V.VALUE
    try:
        cds = [d for d in _delims(cx, col_delimiter) if d != ""] if col_delimiter is not None else []
        rds = [d for d in _delims(cx, row_delimiter) if d != ""] if row_delimiter is not None else []
    except XLError as e:
        return e
    if not cds and not rds:
        return V.VALUE
    pad = V.NA if pad_with is _NOT_GIVEN or pad_with is None else _elem(cx, pad_with, None)
    if isinstance(pad, Array):
        pad = pad.rows[0][0]
    crx = _delim_regex(cds, match_mode == 1) if cds else None
    rrx = _delim_regex(rds, match_mode == 1) if rds else None
    rows = [_split(r, crx, ignore_empty) for r in _split(text, rrx, ignore_empty)]
    if ignore_empty:
        rows = [r for r in rows if r]
    if not rows:
        return V.CALC
    width = max(len(r) for r in rows)
    if width == 0:
        return V.CALC
    return Array([list(r) + [pad] * (width - len(r)) for r in rows])


# ---------------------------------------------------------------------------------------
# ARRAYTOTEXT / VALUETOTEXT
# ---------------------------------------------------------------------------------------

def _as_text(v, strict: bool) -> str:
    if isinstance(v, str):
        return '"' + v.replace('"', '""') + '"' if strict else v
    if isinstance(v, XLError):
        return v.code
    if v is None:
        return ""
    return V.to_text(v)


@xl("ARRAYTOTEXT", ARRAY, INT)
def ARRAYTOTEXT(array, format=0):
    if format not in (0, 1):
        return V.VALUE
    if format == 1 and array.nrows == 1 and array.ncols == 1 and array.rows[0][0] is None:
        return V.VALUE
    if format == 0:
        return _cap(", ".join(_as_text(v, False) for v in array.flat()))
    body = ";".join(",".join(_as_text(v, True) for v in row) for row in array.rows)
    return _cap("{" + body + "}")


@xl("VALUETOTEXT", ANY, INT)
def VALUETOTEXT(value, format=0):
    if format not in (0, 1):
        return V.VALUE
    # the quotes of format 1 can double a long text past Excel's limit (#VALUE!)
    return _cap(_as_text(value, format == 1))


# ---------------------------------------------------------------------------------------
# regular expressions (Excel uses PCRE2; Python's re with PCRE spellings translated)
# ---------------------------------------------------------------------------------------

_NAMED_GROUP = re.compile(r"\(\?<(?=[A-Za-z_])")
_NAMED_GROUP2 = re.compile(r"\(\?'([A-Za-z_]\w*)'")
_NAMED_REF = re.compile(r"\\k[<{']([A-Za-z_]\w*)[>}']")


# Seconds one REGEX* call may spend matching. PCRE2 stops a runaway backtracking match
# (e.g. (a+)+$ against "aaa...a!") at its match limit, and Excel shows that as #VALUE!
# (the MRegexMatchLimit #VALUE! subtype of Office's ValueErrorCellValueSubType); Python has
# no step limit, so the regex module's timeout stands in for it.
REGEX_TIMEOUT = 1.0


def _regex(pattern: str, case_sensitivity):
    if case_sensitivity not in (0, 1):
        raise V.VALUE
    p = _NAMED_GROUP.sub("(?P<", pattern)
    p = _NAMED_GROUP2.sub(r"(?P<\1>", p)
    p = _NAMED_REF.sub(r"(?P=\1)", p)
    p = p.replace(r"\z", r"\Z")
    # `regex` rather than `re`: its matching takes a timeout (REGEX_TIMEOUT), and a user's
    # pattern can backtrack without end where PCRE2, Excel's engine, stops at its match
    # limit. Imported here: ~10 ms that a workbook without these functions does not pay.
    import regex
    try:
        return regex.compile(p, regex.I if case_sensitivity == 1 else 0)
    except (regex.error, OverflowError, RecursionError):
        # RecursionError: parentheses nested thousands deep (PCRE2: "parentheses are too
        # deeply nested", a compile error, so #VALUE! like any bad pattern)
        raise V.VALUE


def regex_search(rx, text):
    """rx.search(text) within REGEX_TIMEOUT; a runaway match is #VALUE! (raised)."""
    try:
        return rx.search(text, timeout=REGEX_TIMEOUT)
    except TimeoutError:
        raise V.VALUE from None


def _finditer(rx, text) -> list:
    try:
        return list(rx.finditer(text, timeout=REGEX_TIMEOUT))
    except TimeoutError:
        raise V.VALUE from None


@xl("REGEXTEST", TEXT, TEXT, INT)
def REGEXTEST(text, pattern, case_sensitivity=0):
    return regex_search(_regex(pattern, case_sensitivity), text) is not None


@xl("REGEXEXTRACT", TEXT, TEXT, INT, INT)
def REGEXEXTRACT(text, pattern, return_mode=0, case_sensitivity=0):
    rx = _regex(pattern, case_sensitivity)
    if return_mode == 0:
        m = regex_search(rx, text)
        return V.NA if m is None else m.group(0)
    if return_mode == 1:
        found = [m.group(0) for m in _finditer(rx, text)]
        if not found:
            return V.NA
        return Array([found])
    if return_mode == 2:
        m = regex_search(rx, text)
        if m is None:
            return V.NA
        if rx.groups == 0:
            return V.VALUE                  # no capturing groups to return
        return Array([[g if g is not None else V.NA for g in m.groups()]])
    return V.VALUE


def _expand(repl: str, m) -> str:
    """PCRE2-style substitution: $n, ${n}, ${name}, $$."""
    out = []
    i, n = 0, len(repl)
    while i < n:
        ch = repl[i]
        if ch == "$" and i + 1 < n:
            nxt = repl[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt.isdigit():
                j = i + 1
                while j < n and repl[j].isdigit():
                    j += 1
                num = repl[i + 1:j]
                k = len(num)
                while k > 1 and int(num[:k]) > m.re.groups:
                    k -= 1
                g = int(num[:k])
                if g > m.re.groups:
                    raise V.VALUE
                out.append(m.group(g) or "")
                i = i + 1 + k
                continue
            if nxt == "{":
                k = repl.find("}", i + 2)
                if k > 0:
                    name = repl[i + 2:k]
                    try:
                        g = m.group(int(name) if name.isdigit() else name)
                    except (IndexError, KeyError):
                        raise V.VALUE
                    out.append(g or "")
                    i = k + 1
                    continue
        out.append(ch)
        i += 1
    return "".join(out)


@xl("REGEXREPLACE", TEXT, TEXT, TEXT, INT, INT)
def REGEXREPLACE(text, pattern, replacement, occurrence=0, case_sensitivity=0):
    rx = _regex(pattern, case_sensitivity)
    matches = _finditer(rx, text)
    if occurrence == 0:
        chosen = matches
    else:
        k = occurrence - 1 if occurrence > 0 else len(matches) + occurrence
        if k < 0 or k >= len(matches):
            return text
        chosen = [matches[k]]
    out = []
    pos = 0
    for m in chosen:
        out.append(text[pos:m.start()])
        out.append(_expand(replacement, m))
        pos = m.end()
    out.append(text[pos:])
    return _cap("".join(out))


# ---------------------------------------------------------------------------------------
# locale-flavoured functions
# ---------------------------------------------------------------------------------------

@xl("ASC", TEXT)
def ASC(text):
    return text


@xl("JIS", TEXT, aliases=("DBCS",))
def JIS(text):
    return text


@xl("PHONETIC", RAW, ctx=True)
def PHONETIC(cx, reference):
    if isinstance(reference, XLError):
        return reference
    if isinstance(reference, (Range, RefList)):
        try:
            return "".join(v if isinstance(v, str) else ""
                           for v in _flat_values(cx, reference))
        except XLError as e:
            return e
    if isinstance(reference, Array):
        return V.VALUE
    if isinstance(reference, str):
        return reference
    return V.VALUE


_THAI_DIGITS = ["ศูนย์", "หนึ่ง", "สอง", "สาม", "สี่", "ห้า", "หก", "เจ็ด", "แปด", "เก้า"]
_THAI_PLACES = ["", "สิบ", "ร้อย", "พัน", "หมื่น", "แสน"]


def _thai_group(n: int, has_higher: bool) -> str:
    """Thai words for 0 <= n < 1,000,000 (empty for 0)."""
    s = str(n)
    out = []
    L = len(s)
    for i, ch in enumerate(s):
        d = int(ch)
        place = L - 1 - i
        if d == 0:
            continue
        if place == 1:
            if d == 1:
                out.append("สิบ")
            elif d == 2:
                out.append("ยี่สิบ")
            else:
                out.append(_THAI_DIGITS[d] + "สิบ")
        elif place == 0:
            out.append("เอ็ด" if d == 1 and (n > 1 or has_higher) else _THAI_DIGITS[d])
        else:
            out.append(_THAI_DIGITS[d] + _THAI_PLACES[place])
    return "".join(out)


def _thai_number(n: int) -> str:
    if n == 0:
        return ""
    groups = []
    while n > 0:
        groups.append(n % 1_000_000)
        n //= 1_000_000
    out = []
    for gi in range(len(groups) - 1, -1, -1):
        g = groups[gi]
        higher = gi < len(groups) - 1 and any(groups[gi + 1:])
        if g:
            out.append(_thai_group(g, higher))
        if gi > 0:
            out.append("ล้าน")
    return "".join(out)


@xl("BAHTTEXT", NUMBER)
def BAHTTEXT(number):
    d = numfmt._round(numfmt._dec(abs(number)), 2)
    baht = int(d)
    satang = int((d - baht) * 100)
    words = []
    if number < 0 and (baht or satang):
        words.append("ลบ")
    if baht:
        words.append(_thai_number(baht) + "บาท")
    if satang:
        words.append(_thai_number(satang) + "สตางค์")
    elif baht:
        words.append("ถ้วน")
    else:
        words.append("ศูนย์บาทถ้วน")
    return "".join(words)
