"""Excel number formats: render a value with a format code the way TEXT (and DOLLAR/FIXED)
do.

    format_number(1234.5, "#,##0.00")            -> "1,234.50"
    format_number(45292, "dddd, mmmm d, yyyy")   -> "Monday, January 1, 2024"

Supported: up to four sections `positive;negative;zero;text`, conditions such as `[>100]`,
colours (`[Red]`, `[Color10]`, ignored), locale/currency tags (`[$-409]`, `[$€-407]`),
digit placeholders `0 # ?`, the decimal point, thousands separators and scaling by trailing
commas, `%`, scientific notation `E+00`/`E-00`, literal text in quotes or after `\\`,
`_x` (a space as wide as x), `*x` (fill; ignored), `@`, fractions (`# ?/?`, `# ??/100`),
`General`, and dates and times (`y m d h s`, month names, `AM/PM`, `A/P`, elapsed `[h] [m]
[s]`, fractional seconds `.0` to `.000`).

Excel rounds half away from zero on the number's 15-significant-digit value; so does this.
"""
from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from functools import lru_cache

from .. import values as V
from ..dates import from_serial

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_MAX_SERIAL = 2958466.0          # 10000-01-01: dates must be before it


# ---------------------------------------------------------------------------------------
# parsing
# ---------------------------------------------------------------------------------------

class Section:
    __slots__ = ("tokens", "cond", "kind", "has_text_at")

    def __init__(self, tokens, cond, kind):
        self.tokens = tokens
        self.cond = cond
        self.kind = kind            # 'number', 'date', 'general', 'text', 'literal'
        self.has_text_at = any(t[0] == "at" for t in tokens)


def _split_sections(fmt: str) -> list[str]:
    out, cur = [], []
    i, n = 0, len(fmt)
    while i < n:
        ch = fmt[i]
        if ch == '"':
            j = fmt.find('"', i + 1)
            j = n - 1 if j < 0 else j
            cur.append(fmt[i:j + 1])
            i = j + 1
            continue
        if ch in "\\_*" and i + 1 < n:
            cur.append(fmt[i:i + 2])
            i += 2
            continue
        if ch == "[":
            j = fmt.find("]", i + 1)
            j = n - 1 if j < 0 else j
            cur.append(fmt[i:j + 1])
            i = j + 1
            continue
        if ch == ";":
            out.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    out.append("".join(cur))
    return out


_COND_OPS = ("<=", ">=", "<>", "<", ">", "=")


def _parse_cond(body: str):
    for op in _COND_OPS:
        if body.startswith(op):
            try:
                return op, float(body[len(op):].strip())
            except ValueError:
                return None
    return None


def _tokenize(sec: str):
    """Tokens: ('lit', text) ('dig', ch) ('dot',) ('comma',) ('pct',) ('exp', 'E', sign)
    ('slash',) ('general',) ('at',) ('date', letter, count) ('ampm', text)
    ('elapsed', letter, count)."""
    toks = []
    cond = None
    i, n = 0, len(sec)
    low = sec.lower()
    while i < n:
        ch = sec[i]
        c = ch.lower()
        if ch == '"':
            j = sec.find('"', i + 1)
            if j < 0:
                toks.append(("bad",))
                j = n
            toks.append(("lit", sec[i + 1:j]))
            i = j + 1
            continue
        if ch == "\\":
            if i + 1 < n:
                toks.append(("lit", sec[i + 1]))
            i += 2
            continue
        if ch == "_":
            if i + 1 < n:
                toks.append(("lit", " "))
            i += 2
            continue
        if ch == "*":
            i += 2
            continue
        if ch == "[":
            j = sec.find("]", i + 1)
            if j < 0:
                j = n
            body = sec[i + 1:j]
            i = j + 1
            bl = body.lower()
            if bl and bl[0] in "<>=":
                cond = _parse_cond(body)
                continue
            if bl and all(x == bl[0] for x in bl) and bl[0] in "hms":
                toks.append(("elapsed", bl[0], len(bl)))
                continue
            if body.startswith("$"):
                cur = body[1:]
                if "-" in cur:
                    cur = cur[:cur.index("-")]
                if cur:
                    toks.append(("lit", cur))
                continue
            continue        # colours, [DBNum1], unknown tags
        if low.startswith("general", i):
            toks.append(("general",))
            i += 7
            continue
        if low.startswith("am/pm", i):
            toks.append(("ampm", "AM/PM"))
            i += 5
            continue
        if low.startswith("a/p", i):
            toks.append(("ampm", sec[i:i + 3]))
            i += 3
            continue
        if ch in "0#?":
            toks.append(("dig", ch))
            i += 1
            continue
        if ch == ".":
            toks.append(("dot",))
            i += 1
            continue
        if ch == ",":
            toks.append(("comma",))
            i += 1
            continue
        if ch == "%":
            toks.append(("pct",))
            i += 1
            continue
        if c == "e" and i + 1 < n and sec[i + 1] in "+-":
            toks.append(("exp", ch, sec[i + 1]))
            i += 2
            continue
        if ch == "/":
            toks.append(("slash",))
            i += 1
            continue
        if ch == "@":
            toks.append(("at",))
            i += 1
            continue
        if c in "ymdhs":
            j = i
            while j < n and sec[j].lower() == c:
                j += 1
            toks.append(("date", c, j - i))
            i = j
            continue
        if c == "e" and not any(t[0] == "dig" for t in toks):
            # 'e' is the year in a date format
            j = i
            while j < n and sec[j].lower() == "e":
                j += 1
            toks.append(("date", "y", 4))
            i = j
            continue
        toks.append(("lit", ch))
        i += 1
    exp_at = next((k for k, t in enumerate(toks) if t[0] == "exp"), None)
    if any(t[0] == "bad" for t in toks) or (exp_at is not None and any(
            t[0] == "dot" or (t[0] == "lit" and t[1].isdigit()) for t in toks[exp_at + 1:])):
        kind = "invalid"
    elif any(t[0] in ("date", "ampm", "elapsed") for t in toks):
        kind = "date"
        if any(t[0] == "at" for t in toks):
            kind = "invalid"
        else:
            # digit placeholders in a date format: only 0s right after the seconds' point
            for i, t in enumerate(toks):
                if t[0] == "dig":
                    j = i
                    while j > 0 and toks[j - 1] == ("dig", "0"):
                        j -= 1
                    if t[1] != "0" or j == 0 or toks[j - 1][0] != "dot":
                        kind = "invalid"
                        break
    elif any(t[0] == "general" for t in toks):
        kind = "general"
    elif any(t[0] == "dig" for t in toks):
        kind = "invalid" if any(t[0] == "at" for t in toks) else "number"
    elif any(t[0] == "at" for t in toks):
        kind = "text"
    else:
        kind = "literal"
    return Section(toks, cond, kind)


@lru_cache(maxsize=2048)
def parse_format(fmt: str):
    """(number sections, text section) of a format code; (None, None) when Excel rejects
    the format."""
    parts = _split_sections(fmt)
    secs = [_tokenize(p) for p in parts]
    if len(secs) > 4 or any(sc.kind == "invalid" for sc in secs) or (
            len(secs) == 4 and any(sc.has_text_at for sc in secs[:3])):
        return None, None
    text_sec = None
    if len(secs) >= 4:
        text_sec = secs[3]
        secs = secs[:3]
    elif len(secs) > 1 and secs[-1].has_text_at and secs[-1].kind == "text":
        text_sec = secs[-1]
        secs = secs[:-1]
    elif len(secs) == 1 and secs[0].kind == "text":
        text_sec = secs[0]
    return secs, text_sec


# ---------------------------------------------------------------------------------------
# numbers
# ---------------------------------------------------------------------------------------

def _dec(x: float) -> Decimal:
    """The number at Excel's 15 significant digits, as a Decimal."""
    if x == 0:
        return Decimal(0)
    return Decimal(format(x, ".15g"))


def _round(d: Decimal, places: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = max(60, d.adjusted() + places + 5)
        return d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _digits_of(d: Decimal, places: int) -> tuple[str, str]:
    """Integer digits ('' for zero) and exactly `places` fraction digits of a rounded
    non-negative Decimal."""
    r = _round(d, places)
    s = format(r, "f")
    if "." in s:
        ip, fp = s.split(".")
    else:
        ip, fp = s, ""
    fp = (fp + "0" * places)[:places]
    ip = ip.lstrip("0")
    return ip, fp


def general(x: float) -> str:
    """Excel's General format (TEXT(x, "General")): at most 11 characters, switching to
    scientific notation when that shows more of the number."""
    if isinstance(x, bool):
        return "TRUE" if x else "FALSE"
    if x == 0:
        return "0"
    s = _general_abs(abs(x))
    return "-" + s if x < 0 else s


def _sci_general(d: Decimal) -> str:
    e = d.adjusted()
    for decimals in (5, 4, 3):
        m = _round(d.scaleb(-e), decimals)
        ee = e
        if m >= 10:
            m = m / 10
            ee += 1
        ms = format(m, "f")
        if "." in ms:
            ms = ms.rstrip("0").rstrip(".")
        es = f"{abs(ee):02d}"
        out = f"{ms}E{'-' if ee < 0 else '+'}{es}"
        if len(out) <= 11 or decimals == 3:
            return out
    return out  # pragma: no cover


def _general_abs(ax: float) -> str:
    d = _dec(ax)
    e = d.adjusted()
    if e < 11:
        if e >= 0:
            places = max(0, 11 - (e + 1) - 1)
        else:
            places = 9
        ip, fp = _digits_of(d, places)
        fp = fp.rstrip("0")
        if len(ip) <= 11:
            exact = _round(d, places) == d
            sig_dec = len((ip + fp).lstrip("0"))
            if e >= -4 or exact or sig_dec >= 6:
                if sig_dec == 0:
                    return _sci_general(d)
                return (ip or "0") + ("." + fp if fp else "")
    return _sci_general(d)


def _choose(secs: list[Section], v: float):
    """The section for a number and the value it formats (abs value where the section
    supplies its own sign) and whether a minus sign must be added."""
    n = len(secs)
    c0 = secs[0].cond
    c1 = secs[1].cond if n > 1 else None
    if c0 is not None or c1 is not None:
        def ok(cond):
            op, t = cond
            return {"<": v < t, "<=": v <= t, ">": v > t, ">=": v >= t, "=": v == t,
                    "<>": v != t}[op]
        if c0 is not None and ok(c0):
            sec = secs[0]
        elif c0 is None and n > 1 and not ok(c1) and v >= 0:
            sec = secs[0]
        elif n > 1 and (c1 is None or ok(c1)):
            sec = secs[1]
        elif n > 2:
            sec = secs[2]
        elif n > 1 and c1 is not None and c0 is not None:
            sec = secs[1]
        elif n == 1:
            return None, v, False          # no section applies: General
        else:
            sec = secs[-1]
        return sec, abs(v), v < 0
    if n == 1 or v > 0:
        return secs[0], abs(v), v < 0
    if v < 0:
        return secs[1], -v, False
    if n >= 3:
        return secs[2], v, False
    return secs[0], v, False


def format_number(value, fmt: str, date1904: bool = False) -> str:
    """Render a value (number, text or boolean) with an Excel format code. Raises
    XLError(#VALUE!) where Excel's TEXT fails (a date format given a negative number or a
    date past 9999)."""
    if isinstance(value, bool):
        value = "TRUE" if value else "FALSE"
    if value is None:
        value = 0.0
    secs, text_sec = parse_format(fmt)
    if secs is None:
        raise V.VALUE
    if isinstance(value, str):
        if text_sec is None:
            return value
        return _render_text(text_sec, value)
    x = float(value)
    if not math.isfinite(x):
        raise V.NUM
    sec, ax, minus = _choose(secs, x)
    if sec is None:
        return general(x)
    body = _render(sec, ax, minus, date1904)
    return body


def _render(sec: Section, ax: float, minus: bool, date1904: bool) -> str:
    kind = sec.kind
    if kind == "date":
        if minus:
            # a negative time shows as "-" and the duration through a format with an
            # elapsed unit ([h], [m], [s]) in a 1904 workbook: TEXT(-(2/24+3/1440+4/86400),
            # "[h]:m:s.000") is "-2:3:4.000" (poi ElapsedFormatTests.xlsx); in the 1900 date
            # system only through a lone elapsed unit, a plain count: TEXT(-1,"[h]") is
            # "-24" while "[h]:m", "[m]:s" and "[s].000" are #VALUE! (pycel text.xlsx
            # TextDates). A date or clock-time format refuses it (#VALUE!)
            toks = sec.tokens
            elapsed = sum(1 for t in toks if t[0] == "elapsed")
            if elapsed and (date1904 or (elapsed == 1 and not any(
                    t[0] in ("date", "ampm", "dot", "dig") for t in toks))):
                return "-" + _render_date(sec, ax, date1904)
            raise V.VALUE
        return _render_date(sec, ax, date1904)
    if kind == "general":
        out = []
        for t in sec.tokens:
            if t[0] == "general":
                out.append(general(ax))
            elif t[0] == "lit":
                out.append(t[1])
            elif t[0] == "pct":
                out.append("%")
            elif t[0] == "dot":
                out.append(".")
        s = "".join(out)
        return "-" + s if minus else s
    if kind in ("literal", "text"):
        # a number shown through a text section (TEXT(5,"@")): @ is the number in General
        s = "".join(t[1] if t[0] == "lit" else ("%" if t[0] == "pct" else
                                                 "." if t[0] == "dot" else
                                                 general(ax) if t[0] == "at" else "")
                    for t in sec.tokens)
        return "-" + s if minus else s
    s = _render_number(sec.tokens, ax)
    return "-" + s if minus else s


def _render_text(sec: Section, text: str) -> str:
    out = []
    for t in sec.tokens:
        k = t[0]
        if k == "at":
            out.append(text)
        elif k == "lit":
            out.append(t[1])
        elif k == "dot":
            out.append(".")
        elif k == "pct":
            out.append("%")
        elif k == "comma":
            out.append(",")
    return "".join(out)


def _placeholder_pad(ch: str) -> str:
    return "0" if ch == "0" else (" " if ch == "?" else "")


def _render_number(toks, ax: float) -> str:
    npct = sum(1 for t in toks if t[0] == "pct")
    d = _dec(ax)
    exp_i = next((i for i, t in enumerate(toks) if t[0] == "exp"), None)
    if exp_i is not None:
        return _render_sci(toks, d, exp_i)
    if npct:
        d = d.scaleb(2 * npct)
    slash_i = _fraction_slash(toks)
    if slash_i is not None:
        return _render_fraction(toks, d, slash_i)
    return _render_plain(toks, d)


def _render_plain(toks, d: Decimal, zero_digit: bool = False, scaling: bool = True) -> str:
    """Digits, decimal point, grouping and scaling commas, literals."""
    if not any(t[0] == "dig" for t in toks):
        toks = list(toks) + [("dig", "#")]
    dot_i = next((i for i, t in enumerate(toks) if t[0] == "dot"), len(toks))
    # commas: after a literal (or first) they are literal; a run right after a digit
    # placeholder groups thousands when a placeholder follows it in the integer part,
    # scales by 1000 each when no placeholder follows (or the decimal point does), and is
    # dropped otherwise
    grouping = False
    scale = 0
    literal_commas: set[int] = set()
    i = 0
    n = len(toks)
    while i < n:
        if toks[i][0] != "comma":
            i += 1
            continue
        j = i
        while j < n and toks[j][0] == "comma":
            j += 1
        prev = toks[i - 1][0] if i > 0 else None
        if prev not in ("dig", "dot"):
            literal_commas.update(range(i, j))
        elif j < n and toks[j][0] == "dig" and i < dot_i:
            grouping = True
        elif (j < n and toks[j][0] == "dot" and i < dot_i) or not any(
                toks[k][0] == "dig" for k in range(j, n)):
            scale += j - i
        i = j
    if scale and scaling:
        d = d.scaleb(-3 * scale)
    int_ph = [i for i in range(dot_i) if toks[i][0] == "dig"]
    frac_ph = [i for i in range(dot_i + 1, len(toks)) if toks[i][0] == "dig"]
    ip, fp = _digits_of(d, len(frac_ph))
    if zero_digit and not ip and int_ph:
        ip = "0" * len(int_ph)
    # integer digits right-aligned over the integer placeholders; extra digits go to the
    # first. Items are (kind, text, position from the right): d digit, s space, e empty.
    emit: dict[int, list[tuple[str, str, int]]] = {}
    nph = len(int_ph)
    lead: list[tuple[str, str, int]] = []
    if nph == 0:
        lead = [("d", ch, len(ip) - j) for j, ch in enumerate(ip)]
    else:
        for k, ti in enumerate(int_ph):
            place = nph - k
            pos = len(ip) - place
            items = []
            if k == 0 and pos > 0:
                items.extend(("d", ch, len(ip) - j) for j, ch in enumerate(ip[:pos]))
            if pos >= 0:
                items.append(("d", ip[pos], place))
            else:
                pad = _placeholder_pad(toks[ti][1])
                items.append(("d" if pad == "0" else ("s" if pad else "e"), pad, place))
            emit[ti] = items
    # trailing fraction digits that are zero are dropped for # and ? placeholders
    frac_emit: dict[int, str] = {}
    for k, ti in enumerate(frac_ph):
        digit = fp[k]
        ch = toks[ti][1]
        if ch == "0" or fp[k:].strip("0"):
            frac_emit[ti] = digit
        else:
            frac_emit[ti] = _placeholder_pad(ch)
    # assemble the integer part; a thousands separator follows the placeholder at
    # position 4, 7, 10... from the right (a space after a ? pad, nothing after an empty #)
    out: list[str] = []

    def put(items):
        for kind, text, place in items:
            out.append(text)
            if grouping and place > 1 and (place - 1) % 3 == 0:
                out.append("," if kind == "d" else (" " if kind == "s" else ""))
    if nph == 0:
        put(lead)
    for i in range(dot_i):
        t = toks[i]
        k = t[0]
        if k == "dig":
            put(emit[i])
        elif k == "comma":
            if i in literal_commas:
                out.append(",")
        else:
            out.append(_lit_text(t))
    for i in range(dot_i, len(toks)):
        t = toks[i]
        k = t[0]
        if k == "dot":
            out.append(".")
        elif k == "dig":
            out.append(frac_emit[i])
        elif k == "comma" and i in literal_commas:
            out.append(",")
        elif k == "lit":
            out.append(t[1])
        elif k == "pct":
            out.append("%")
        elif k == "slash":
            out.append("/")
    return "".join(out)


def _render_sci(toks, d: Decimal, exp_i: int) -> str:
    """Scientific notation: the exponent is a multiple of the number of integer
    placeholders (engineering notation for ##0.0E+0); the sign goes right before the
    exponent digits; % does not scale."""
    mant = toks[:exp_i]
    rest = toks[exp_i + 1:]
    dot_i = next((i for i, t in enumerate(mant) if t[0] == "dot"), len(mant))
    nint = max(sum(1 for i in range(dot_i) if mant[i][0] == "dig"), 1)
    nfrac = sum(1 for i in range(dot_i + 1, len(mant)) if mant[i][0] == "dig")
    if d == 0:
        e = 0
        m = Decimal(0)
    else:
        e0 = d.adjusted()
        e = (e0 // nint) * nint
        m = _round(d.scaleb(-e), nfrac)
        if m >= Decimal(10) ** nint:
            e += nint
            m = _round(d.scaleb(-e), nfrac)
    out = [_render_plain(mant, m, zero_digit=True, scaling=False)]
    et = toks[exp_i]
    out.append(et[1])
    sign = "-" if e < 0 else ("+" if et[2] == "+" else "")
    exp_ph = [t[1] for t in rest if t[0] == "dig"]
    es = _fill_right(exp_ph, str(abs(e))) if exp_ph else str(abs(e))
    placed = False
    for t in rest:
        if t[0] == "dig":
            if not placed:
                out.append(sign + es)
                placed = True
        elif t[0] != "comma":
            out.append(_lit_text(t))
    if not placed:
        out.append(sign + es)
    return "".join(out)


def _is_den(t) -> bool:
    return t[0] == "dig" or (t[0] == "lit" and t[1].isdigit())


def _fraction_slash(toks):
    for i, t in enumerate(toks):
        if t[0] == "slash":
            before = any(x[0] == "dig" for x in toks[:i])
            after = any(_is_den(x) for x in toks[i + 1:])
            if before and after:
                return i
    return None


def _lit_text(t) -> str:
    k = t[0]
    if k == "lit":
        return t[1]
    if k == "pct":
        return "%"
    if k == "slash":
        return "/"
    if k == "dot":
        return "."
    if k == "comma":
        return ","
    return ""


def _fill_right(ph: list[str], digits: str) -> str:
    """Digits right-aligned over placeholders; extra digits go before the first one."""
    out = []
    n = len(ph)
    for k, ch in enumerate(ph):
        pos = len(digits) - (n - k)
        if k == 0 and pos > 0:
            out.append(digits[:pos])
        out.append(digits[pos] if pos >= 0 else _placeholder_pad(ch))
    return "".join(out)


def _render_fraction(toks, d: Decimal, si: int) -> str:
    """Fractions: [PRE] [INT SEP] NUM MID1 / MID2 DEN [TAIL]. Excel's rules for a zero
    integer or a zero fraction part are reproduced (blanking with spaces when a ? asks)."""
    # denominator: the first run of placeholders/digits after the slash
    k = si + 1
    while k < len(toks) and not _is_den(toks[k]):
        k += 1
    mid2 = toks[si + 1:k]
    den_start = k
    while k < len(toks) and _is_den(toks[k]):
        k += 1
    den_toks = toks[den_start:k]
    tail = toks[k:]
    den_chars = [t[1] for t in den_toks]
    # numerator: the last run of placeholders before the slash
    j = si - 1
    while j >= 0 and toks[j][0] != "dig":
        j -= 1
    num_end = j + 1
    mid1 = toks[num_end:si]
    while j >= 0 and toks[j][0] == "dig":
        j -= 1
    num_start = j + 1
    n_ph = [t[1] for t in toks[num_start:num_end]]
    head = toks[:num_start]
    int_idx = [i for i, t in enumerate(head) if t[0] == "dig"]
    has_int = bool(int_idx)
    if has_int:
        pre = head[:int_idx[0]]
        int_toks = head[int_idx[0]:int_idx[-1] + 1]
        sep = head[int_idx[-1] + 1:]
    else:
        pre, int_toks, sep = head, [], []
    i_ph = [t[1] for t in int_toks if t[0] == "dig"]

    fixed = None
    if den_chars and den_chars[0] in "123456789" and all(c.isdigit() for c in den_chars):
        fixed = int("".join(den_chars))
    value = Fraction(d)
    whole = int(value) if has_int else 0
    frac = value - whole
    if fixed:
        num = int(_round(Decimal(frac.numerator) * fixed / Decimal(frac.denominator), 0))
        den = fixed
    else:
        maxden = 10 ** len(den_chars) - 1
        f = frac.limit_denominator(max(maxden, 1))
        num, den = f.numerator, f.denominator
    if has_int and num and num == den:
        whole += 1
        num = 0

    def render_int(digits: str, last_zero: str | None) -> str:
        out = []
        n = len(i_ph)
        seen = 0
        for t in int_toks:
            if t[0] != "dig":
                out.append(_lit_text(t))
                continue
            kk = seen
            seen += 1
            pos = len(digits) - (n - kk)
            if kk == 0 and pos > 0:
                out.append(digits[:pos])
            if pos >= 0:
                out.append(digits[pos])
            elif kk == n - 1 and last_zero is not None:
                out.append(last_zero)
            else:
                out.append(_placeholder_pad(t[1]))
        return "".join(out)

    def width(ts) -> int:
        return sum(len(_lit_text(t)) if t[0] != "dig" else 1 for t in ts)

    def den_text(dv: int) -> str:
        if fixed:
            return str(fixed)
        ds = str(dv)
        if len(ds) < len(den_chars):
            if "0" in den_chars:
                ds = ds.rjust(len(den_chars), "0")
            elif "?" in den_chars:
                ds = ds.ljust(len(den_chars), " ")
        return ds

    pre_s = "".join(_lit_text(t) for t in pre)
    tail_s = "".join(_lit_text(t) for t in tail)
    frac_s = lambda nv, dv: (_fill_right(n_ph, str(nv)) + "".join(_lit_text(t) for t in mid1)  # noqa: E731
                             + "/" + "".join(_lit_text(t) for t in mid2) + den_text(dv))
    any_q = "?" in i_ph or "?" in n_ph
    if not has_int:
        return pre_s + frac_s(num, den if num else 1) + tail_s
    if num == 0 and "0" not in n_ph:
        int_s = render_int(str(whole) if whole else "", "0")
        rest = width(sep) + len(n_ph) + width(mid1) + 1 + width(mid2) + len(den_chars)
        blank = " " * rest if (any_q or "?" in den_chars) else ""
        return pre_s + int_s + blank + tail_s
    if num == 0:
        if whole:
            int_s = render_int(str(whole), None)
        else:
            last = "0" if i_ph[-1] in "?0" else None
            int_s = render_int("", last)
        sep_s = "".join(_lit_text(t) for t in sep) if any(c.isdigit() for c in int_s) else ""
        return pre_s + int_s + sep_s + frac_s(0, 1) + tail_s
    if whole:
        int_s = render_int(str(whole), None)
        sep_s = "".join(_lit_text(t) for t in sep)
    else:
        int_s = render_int("", None)
        if any(c.isdigit() for c in int_s):
            sep_s = "".join(_lit_text(t) for t in sep)
        elif any_q:
            sep_s = " " * width(sep)
        else:
            sep_s = ""
    return pre_s + int_s + sep_s + frac_s(num, den) + tail_s


# ---------------------------------------------------------------------------------------
# dates and times
# ---------------------------------------------------------------------------------------

def _render_date(sec: Section, v: float, date1904: bool) -> str:
    toks = sec.tokens
    calendar = any(t[0] in ("date", "ampm") for t in toks)
    if v >= _MAX_SERIAL and calendar:
        raise V.VALUE
    # sub-second digits shown after the seconds
    sub = 0
    for i, t in enumerate(toks):
        if t[0] == "dot" and i + 1 < len(toks) and toks[i + 1] == ("dig", "0"):
            j = i + 1
            while j < len(toks) and toks[j] == ("dig", "0"):
                j += 1
            sub = max(sub, min(j - i - 1, 3))
    days = math.floor(v)
    unit = 10 ** sub
    ticks = int(_round(_dec(v - days) * 86400 * unit if v != days else Decimal(0), 0))
    if ticks >= 86400 * unit:
        days += 1
        ticks -= 86400 * unit
    if days >= _MAX_SERIAL and calendar:
        raise V.VALUE
    secs_total, frac_ticks = divmod(ticks, unit)
    hh, rem = divmod(secs_total, 3600)
    mi, ss = divmod(rem, 60)
    y, mo, dd = from_serial(days, date1904) if calendar else (1900, 1, 0)
    if date1904:
        import datetime as _dt
        wd = (_dt.date(1904, 1, 1) + _dt.timedelta(days=days)).isoweekday() % 7
    else:
        wd = (days + 6) % 7           # serial 1 (1900-01-01) is a Sunday in Excel
    ampm = any(t[0] == "ampm" for t in toks)
    # which m tokens are minutes
    kinds = [t for t in toks]
    minute_idx = set()
    date_pos = [i for i, t in enumerate(kinds) if t[0] in ("date", "elapsed", "ampm")]
    for n, i in enumerate(date_pos):
        t = kinds[i]
        if t[0] == "date" and t[1] == "m" and t[2] <= 2:
            prev = kinds[date_pos[n - 1]] if n > 0 else None
            nxt = kinds[date_pos[n + 1]] if n + 1 < len(date_pos) else None
            if prev is not None and prev[1] in "hs" and prev[0] in ("date", "elapsed"):
                minute_idx.add(i)
            elif nxt is not None and nxt[1] == "s" and nxt[0] in ("date", "elapsed"):
                minute_idx.add(i)
    elapsed = {t[1] for t in toks if t[0] == "elapsed"}
    total_h = days * 24 + hh
    total_m = total_h * 60 + mi
    total_s = total_m * 60 + ss
    out = []
    i = 0
    while i < len(toks):
        t = toks[i]
        k = t[0]
        if k == "lit":
            out.append(t[1])
        elif k == "date":
            c, cnt = t[1], t[2]
            if c == "y":
                out.append(f"{y % 100:02d}" if cnt <= 2 else f"{y:04d}")
            elif c == "m" and i in minute_idx:
                val = total_m if "m" in elapsed else mi
                out.append(f"{val:02d}" if cnt == 2 else str(val))
            elif c == "m":
                if cnt == 1:
                    out.append(str(mo))
                elif cnt == 2:
                    out.append(f"{mo:02d}")
                elif cnt == 3:
                    out.append(_MONTHS[mo - 1][:3])
                elif cnt == 5:
                    out.append(_MONTHS[mo - 1][0])
                else:
                    out.append(_MONTHS[mo - 1])
            elif c == "d":
                if cnt == 1:
                    out.append(str(dd))
                elif cnt == 2:
                    out.append(f"{dd:02d}")
                elif cnt == 3:
                    out.append(_DAYS[wd][:3])
                else:
                    out.append(_DAYS[wd])
            elif c == "h":
                h = hh
                if "h" in elapsed:
                    h = total_h
                elif ampm:
                    h = h % 12 or 12
                out.append(f"{h:02d}" if cnt >= 2 else str(h))
            elif c == "s":
                val = total_s if "s" in elapsed else ss
                out.append(f"{val:02d}" if cnt >= 2 else str(val))
        elif k == "elapsed":
            c, cnt = t[1], t[2]
            val = total_h if c == "h" else (total_m if c == "m" else total_s)
            out.append(str(val).rjust(cnt, "0"))
        elif k == "ampm":
            txt = t[1]
            pm = hh >= 12
            if txt.upper() == "AM/PM":
                out.append("PM" if pm else "AM")
            else:
                a, p = txt.split("/")
                out.append(p if pm else a)
        elif k == "dot":
            if i + 1 < len(toks) and toks[i + 1] == ("dig", "0") and sub:
                j = i + 1
                while j < len(toks) and toks[j] == ("dig", "0"):
                    j += 1
                n = j - i - 1
                digits = str(frac_ticks).rjust(sub, "0")
                out.append("." + digits[:n].ljust(n, "0"))
                i = j
                continue
            out.append(".")
        elif k == "dig":
            out.append(t[1] if t[1] == "0" else "")
        elif k == "pct":
            out.append("%")
        elif k == "comma":
            out.append(",")
        elif k == "slash":
            out.append("/")
        elif k == "general":
            out.append(general(v))
        i += 1
    return "".join(out)
