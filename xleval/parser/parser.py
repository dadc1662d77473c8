"""Excel formula parser (precedence climbing over the token list) and the R1C1 shape key
that lets copied-down formulas share one parse.

Excel precedence, loosest to tightest: comparison (= <> < <= > >=), &, + -, * /, ^,
unary -/+ (so -2^2 = 4), %, union (,) inside parentheses, intersection (space), range (:).
"""
from __future__ import annotations

import re
from bisect import bisect_left
from operator import itemgetter

from .. import values as V
from ..refs import MAX_COL, MAX_ROW, col_to_num
from .ast import (CHAIN_NODES, ArrayLit, Binary, Func, Literal, Missing, Name, Node, Postfix,
                  Ref, StructRef, Unary, op_chain)
from .tokenizer import FormulaSyntaxError, tokenize

_BINARY = {"=": 1, "<>": 1, "<": 1, "<=": 1, ">": 1, ">=": 1, "&": 2, "+": 3, "-": 3,
           "*": 4, "/": 4, "^": 5}
_UNARY_BP = 6
_PERCENT_BP = 7
_UNION_BP = 8
_ISECT_BP = 9
_RANGE_BP = 10

# Levels of nesting a formula may have: parentheses, function calls and prefix operators
# (=-(ABS(-1)) is 4). Excel allows 64 levels of nested functions; this leaves room for the
# parentheses and signs between them. A deeper formula does not parse ("formula nested too
# deeply": #NAME? in its cell, listed in the report), nor does one whose parse runs out of
# recursion (parsing, compiling and evaluating recurse once or a few times per level: the
# default limit of 1,000 frames holds some 190 levels of IF(A1>0,1+IF(...)) for a shallow
# caller; compiling out of it is #NAME? too, evaluating #NUM!). xleval never changes the
# limit: raised and put back while another thread is deeper than the old limit, it would
# abort the interpreter ("Cannot recover from stack overflow"). Chains of binary and
# postfix operators, =1+1+...+1, are not nesting: the parser builds them in a loop, and
# the compiler and template_builder treat long ones with loops (see Compiler._chain).
MAX_NESTING = 255
TOO_DEEP = "formula nested too deeply"

CALL = "@CALL"         # Func name of a call of a computed lambda (see _Parser.calls)
_PREFIX_RE = re.compile(r"^(?:_xlfn\.|_xlws\.|_xludf\.)+", re.I)
_CELL_PART = re.compile(r"^(\$?)([A-Za-z]{1,3})(\$?)([0-9]{1,7})$")
_COL_PART = re.compile(r"^(\$?)([A-Za-z]{1,3})$")
_ROW_PART = re.compile(r"^(\$?)([0-9]{1,7})$")
_BOOK_INDEX = re.compile(r"\[\d+\]")
_INF = float("inf")


def _split_prefix(tok: str) -> tuple[int | None, str | None, str | None, str]:
    """'[1]Sheet1:Sheet3'!A1 -> (book, sheet, sheet2, body)."""
    if "!" not in tok:
        return None, None, None, tok
    # the body never contains '!' except '#REF!' (any case: Excel reads =sheet1!#ref!)
    ref_err = tok[-5:].upper() == "#REF!"
    if ref_err and tok.count("!") >= 2:
        idx = tok[:-5].rindex("!")
    elif ref_err and tok.count("!") == 1:
        return None, None, None, tok
    else:
        idx = tok.rindex("!")
    prefix, body = tok[:idx], tok[idx + 1:]
    if prefix.startswith("'") and prefix.endswith("'"):
        prefix = prefix[1:-1].replace("''", "'")
    book = None
    if prefix.startswith("["):
        close = prefix.find("]")
        if close < 0:
            raise FormulaSyntaxError(f"bad reference {tok}")
        inner = prefix[1:close]
        book = int(inner) if inner.isdigit() else None
        if book is None:
            raise FormulaSyntaxError(f"external workbook reference by name: {tok}")
        prefix = prefix[close + 1:]
        if prefix.startswith("'") and prefix.endswith("'") and len(prefix) > 1:
            prefix = prefix[1:-1].replace("''", "'")
    sheet: str | None = prefix or None
    sheet2 = None
    if sheet and ":" in sheet:
        sheet, sheet2 = sheet.split(":", 1)
    return book, sheet, sheet2, body


def parse_ref(tok: str, origin: tuple[int, int]) -> Ref:
    """A reference token to a Ref relative to `origin` (row, col)."""
    book, sheet, sheet2, body = _split_prefix(tok)
    orow, ocol = origin
    if body.upper() == "#REF!":
        return Ref(0, 0, 0, 0, sheet=sheet, sheet2=sheet2, book=book, invalid=True)
    parts = body.split(":")
    if len(parts) == 1:
        m = _CELL_PART.match(parts[0])
        if not m:
            raise FormulaSyntaxError(f"bad reference {tok}")
        ca, cl, ra, rw = m.groups()
        c, r = col_to_num(cl), int(rw)
        if c > MAX_COL or r > MAX_ROW or r < 1:
            raise FormulaSyntaxError(f"reference out of range {tok}")
        rabs, cabs = bool(ra), bool(ca)
        rr = r if rabs else r - orow
        cc = c if cabs else c - ocol
        return Ref(rr, cc, rr, cc, rabs, cabs, rabs, cabs, sheet, sheet2, book)
    a, b = parts
    m1, m2 = _CELL_PART.match(a), _CELL_PART.match(b)
    if m1 and m2:
        vals = []
        for m in (m1, m2):
            ca, cl, ra, rw = m.groups()
            c, r = col_to_num(cl), int(rw)
            if c > MAX_COL or r > MAX_ROW or r < 1:
                raise FormulaSyntaxError(f"reference out of range {tok}")
            vals.append((r if ra else r - orow, c if ca else c - ocol, bool(ra), bool(ca)))
        (r1, c1, ra1, ca1), (r2, c2, ra2, ca2) = vals
        return Ref(r1, c1, r2, c2, ra1, ca1, ra2, ca2, sheet, sheet2, book)
    m1, m2 = _COL_PART.match(a), _COL_PART.match(b)
    if m1 and m2:
        c1, c2 = col_to_num(m1.group(2)), col_to_num(m2.group(2))
        a1, a2 = bool(m1.group(1)), bool(m2.group(1))
        return Ref(1, c1 if a1 else c1 - ocol, MAX_ROW, c2 if a2 else c2 - ocol,
                   True, a1, True, a2, sheet, sheet2, book, whole="col")
    m1, m2 = _ROW_PART.match(a), _ROW_PART.match(b)
    if m1 and m2:
        r1, r2 = int(m1.group(2)), int(m2.group(2))
        a1, a2 = bool(m1.group(1)), bool(m2.group(1))
        return Ref(r1 if a1 else r1 - orow, 1, r2 if a2 else r2 - orow, MAX_COL,
                   a1, True, a2, True, sheet, sheet2, book, whole="row")
    raise FormulaSyntaxError(f"bad reference {tok}")


def _ref_key(ref: Ref) -> str:
    def part(v, a):
        return f"{v}" if a else f"[{v}]"
    return (f"{ref.book}|{ref.sheet}|{ref.sheet2}|{ref.whole}|{ref.invalid}|"
            f"R{part(ref.row1, ref.row1_abs)}C{part(ref.col1, ref.col1_abs)}:"
            f"R{part(ref.row2, ref.row2_abs)}C{part(ref.col2, ref.col2_abs)}")


def shape_key(text: str, origin: tuple[int, int]) -> tuple[str, list[tuple[str, str]]]:
    """The formula's R1C1 shape (a string that is equal for copied-down formulas) and its
    tokens. Structured references that mention the current row are position-independent
    in this form too, because they are resolved relative to the evaluated cell."""
    toks = tokenize(text)
    parts = []
    for kind, tok in toks:
        if kind == "ref":
            parts.append(_ref_key(parse_ref(tok, origin)))
        else:
            parts.append(tok)
    return "\x1f".join(parts), toks


_FAST_REF = re.compile(
    r"(?<![\w.$])(?:(\$?)([A-Za-z]{1,3})(\$?)([0-9]{1,7})"
    r"|(\$?)([A-Za-z]{1,3}):(\$?)([A-Za-z]{1,3})"
    r"|(\$?)([0-9]{1,7}):(\$?)([0-9]{1,7}))(?![\w.(!\[])")


def fast_shape_key(text: str, origin: tuple[int, int]) -> str | None:
    """The R1C1 shape key by one regex substitution, for the common formulas without
    strings, quoted sheet names or brackets (where a reference-like substring could be
    text); None when the slow, tokenizing path must decide."""
    if '"' in text or "'" in text or "[" in text or "!" in text and _BANG_REF.search(text):
        return None
    return "\x1e" + _FAST_REF.sub(_r1c1_sub(origin, None), text)


# a reference-looking sheet name followed by '!' (e.g. Q1!A1) would make the fast key unsafe
_BANG_REF = re.compile(r"(?<![\w.$])\$?[A-Za-z]{1,3}\$?[0-9]{1,7}!")

# the references of _FAST_REF, or a number literal (the tokenizer's 'num', same spelling)
_FAST_REF_NUM = re.compile(
    _FAST_REF.pattern + r"|(?<![\w.$])((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")


_COL_NUMS: dict[str, int] = {}


def _col_num(letters: str) -> int:
    """col_to_num, memoised (a workbook uses few distinct column letters)."""
    n = _COL_NUMS.get(letters)
    if n is None:
        n = _COL_NUMS[letters] = col_to_num(letters)
    return n


def _r1c1_sub(origin: tuple[int, int], nums: list[str] | None):
    """The `re.sub` callback of the fast keys: a reference match of _FAST_REF (or of
    _FAST_REF_NUM) to its R1C1 form relative to `origin`; a number match of _FAST_REF_NUM
    to a placeholder, its text appended to `nums`."""
    orow, ocol = origin
    col = _col_num

    def sub(m):
        last = m.lastindex          # the last group that took part: which alternative
        if last == 13:
            nums.append(m[13])
            return "\x1d"
        if last == 4:
            ca, cl, ra, rw = m.group(1, 2, 3, 4)
            c = col(cl)
            r = int(rw)
            return (f"R{r}" if ra else f"R[{r - orow}]") + \
                   (f"C{c}" if ca else f"C[{c - ocol}]")
        g = m.groups()
        if g[5] is not None:
            a, b = col(g[5]), col(g[7])
            return (f"C{a}" if g[4] else f"C[{a - ocol}]") + ":" + \
                   (f"C{b}" if g[6] else f"C[{b - ocol}]")
        a, b = int(g[9]), int(g[11])
        return (f"R{a}" if g[8] else f"R[{a - orow}]") + ":" + \
               (f"R{b}" if g[10] else f"R[{b - orow}]")
    return sub


def _skeleton_key_slow(text: str, origin: tuple[int, int]
                       ) -> tuple[str, list[str], str] | None:
    """skeleton_key's general path: one `re.sub` with a Python callback per reference
    and number (~8 us a text). The fast path below reproduces it through plans built
    from its output, so this is the definition of the result."""
    if _keyless(text):
        return None
    nums: list[str] = []
    skel = _FAST_REF_NUM.sub(_r1c1_sub(origin, nums), text)
    if not nums:
        return skel, nums, "\x1e" + skel
    # the fast shape key is the skeleton with its numbers put back
    pieces = skel.split("\x1d")
    out = [pieces[0]]
    for num, piece in zip(nums, pieces[1:]):
        out.append(num)
        out.append(piece)
    return _finite((skel, nums, "\x1e" + "".join(out)))


def _keyless(text: str) -> bool:
    """Texts with no skeleton by their characters alone (see _skeleton_key_slow)."""
    return bool("{" in text or '"' in text or "'" in text or "[" in text or
                "!" in text and _BANG_REF.search(text))


def _finite(got: tuple[str, list[str], str]):
    """`got`, or None when one of its number literals is beyond the largest double
    (1E309): the parser makes that literal #NUM!, no number slot, and a family member's
    float() of it would be inf."""
    for t in got[1]:
        if float(t) == _INF:
            return None
    return got


# --- the fast path of skeleton_key ------------------------------------------------------
# With hand-typed constants every cell has its own text, and the general path above (a
# Python callback per match) was most of Engine.prepare. But texts that differ only in
# their runs of ASCII digits ('A2>12.11' and 'A17>3.5' in one column) are treated alike by
# every test of the general path (_FAST_REF_NUM, _BANG_REF, the character tests): a digit
# is only ever tested as "a digit", runs are counted only up to 7, and no match takes part
# of a run. So the role of each run (a row of a reference, part of a number literal, or
# copied text such as the 10 of LOG10) and the None result depend only on the text's
# "structure" (each run of 1-7 digits collapsed to one mark, by C-level bytes calls), and
# the output only on that, the origin column, the runs and the origin row. A plan per
# (structure, origin column) holds %-templates of the outputs whose arguments are the
# text's tokens (maximal runs of digits and dots, e.g. '12.11': one translate and split)
# and its rows, so a text of a known structure costs a few C calls (~2.3 us, not ~8).
# A structure's first _PLAN_AFTER texts take the general path and the next one builds
# the plan (~5 general-path calls), so structures met once or twice cost no building.
# Runs of 8+ digits (where the count matters), texts that are not UTF-8 encodable and the
# rare structures a plan can't express (a token across a match's end, as in '1.5.2') take
# the general path.

_MARK_DIGITS = bytes.maketrans(b"0123456789", b"\xff" * 10)    # 0xFF: never in UTF-8
_TOKENS = bytes(c if 48 <= c <= 57 or c == 46 else 32 for c in range(256))  # else space
_LONG_RUN = b"\xff" * 8
_TOKEN = re.compile(r"[0-9.]+")        # the tokens, as `_TOKENS` + split finds them
_PLAN_CACHE_MAX = 50_000               # entries per cache; cleared when full
_PLAN_AFTER = 3                        # texts of a structure taking the general path first
_SEEN: dict = {}                       # (text less its digits, column) -> texts so far
_PLANS: dict = {}                      # (structure, column) -> plan (_applier) | _NONE | _SLOW
_BY_SHAPE: dict = {}                   # (digits marked, not collapsed; column) -> its plan
_NONE = "none"                         # skeleton_key is None for this structure
_SLOW = "slow"                         # take the general path


class _PlanError(Exception):
    """A text whose tokens do not line up with the general path's matches."""


def _getter(idx: list[int]):
    """vals -> the arguments of a %-template: a tuple, or the bare value for one index
    (which % takes as its only argument)."""
    return itemgetter(*idx) if idx else _no_args


def _no_args(vals: list) -> tuple:
    return ()


def _no_nums(vals: list) -> list:
    return []


def _nums_of(idx: list[int], template: str | None, args: list[int]):
    """vals -> the number literals: the tokens themselves when each literal is one token
    (the common case), else from a %-template of them joined by spaces. Returns (getter,
    whether the getter's tuple is to be made a list) to spare the common case a call."""
    if template is not None:
        get = _getter(args)
        return (lambda vals: (template % get(vals)).split(" ")), False
    if len(idx) > 1:
        return itemgetter(*idx), True
    if idx:
        i = idx[0]
        return (lambda vals: [vals[i]]), False
    return _no_nums, False


def _build_plan(text: str, origin: tuple[int, int]):
    """The plan of `text`'s structure in `origin`'s column (an `_applier` function), or
    _NONE: the general path's matches on `text`, each token mapped to its role (copied
    text, part of a number literal, or a row). The templates' arguments index `vals` =
    the tokens + the relative rows (minus the origin row) + the absolute rows. Raises
    _PlanError where the tokens don't line up with the matches, or the plan would not
    reproduce the general path's result on `text` itself."""
    got = _skeleton_key_slow(text, origin)
    if got is None:
        if _keyless(text):
            return _NONE
        raise _PlanError(text)  # a number beyond a double (_finite): no plan from this text
    if "\x1d" in text:              # the general path splits its skeleton on \x1d
        return _SLOW
    spans = [m.span() for m in _TOKEN.finditer(text)]
    n = len(spans)
    starts = [a for a, _ in spans]
    tok_at = {a: i for i, a in enumerate(starts)}
    roles = [0] * n                   # how many roles each token got: must be exactly one
    rows: list[tuple[bool, int]] = []          # (absolute, token) per row argument
    skel: list[str] = []              # %-template pieces; their arguments are token
    fast: list[str] = []              # indices or ("row", i) for the i-th row
    skel_args: list = []
    fast_args: list = []
    num_toks: list[int] = []          # the token of each number literal, if all are one
    nums_t: list[str] = []            # else %-templates of the literals ...
    nums_args: list = []              # ... and their arguments
    simple_nums = True

    def claim(a: int, b: int) -> list[int]:
        """The tokens inside text[a:b] (none may straddle its ends), given a role.
        Regions come left to right, so the scan starts at the first token not before a
        (row() takes its token without a claim)."""
        i = bisect_left(starts, a)
        if i and spans[i - 1][1] > a:   # the token before a reaches into text[a:b]
            raise _PlanError(text)
        out = []
        while i < n and spans[i][0] < b:
            if spans[i][1] > b:
                raise _PlanError(text)
            out.append(i)
            roles[i] += 1
            i += 1
        return out

    def template(a: int, b: int, toks: list[int], args: list) -> str:
        """text[a:b] as a %-template, its tokens as %s arguments."""
        out, i = [], a
        for t in toks:
            ta, tb = spans[t]
            out.append(text[i:ta].replace("%", "%%"))
            out.append("%s")
            args.append(t)
            i = tb
        out.append(text[i:b].replace("%", "%%"))
        return "".join(out)

    def plain(a: int, b: int) -> None:
        """Text outside any match: copied, digits included."""
        toks = claim(a, b)
        skel.append(template(a, b, toks, skel_args))
        fast.append(template(a, b, toks, fast_args))

    def row(m, dollar: int, digits: int) -> str:
        """The row of a reference match: a %d argument (relative or absolute)."""
        t = tok_at.get(m.start(digits))
        if t is None or spans[t][1] != m.end(digits):
            raise _PlanError(text)
        roles[t] += 1
        absolute = bool(m.group(dollar))
        skel_args.append(("row", len(rows)))
        fast_args.append(("row", len(rows)))
        rows.append((absolute, t))
        return "R%d" if absolute else "R[%d]"

    sub = _r1c1_sub(origin, [])
    pos = 0
    for m in _FAST_REF_NUM.finditer(text):
        a, b = m.span()
        plain(pos, a)
        last = m.lastindex
        if last == 13:                  # a number literal
            toks = claim(a, b)
            skel.append("\x1d")
            fast.append(template(a, b, toks, fast_args))
            nums_t.append(template(a, b, toks, nums_args))
            if len(toks) == 1 and spans[toks[0]] == (a, b):
                num_toks.append(toks[0])
            else:
                simple_nums = False
        elif last == 4:                 # a cell: its row varies, its column is fixed
            ca, cl = m.group(1, 2)
            col = _col_num(cl)
            part = row(m, 3, 4) + (f"C{col}" if ca else f"C[{col - origin[1]}]")
            skel.append(part)
            fast.append(part)
        elif m.group(6) is not None:    # whole columns: no digits
            if claim(a, b):
                raise _PlanError(text)
            fixed = sub(m).replace("%", "%%")
            skel.append(fixed)
            fast.append(fixed)
        else:                           # whole rows 3:5
            part = row(m, 9, 10) + ":" + row(m, 11, 12)
            skel.append(part)
            fast.append(part)
        pos = b
    plain(pos, len(text))
    if roles != [1] * n:
        raise _PlanError(text)
    # vals = tokens + relative rows + absolute rows: resolve the row arguments
    rel = [t for a, t in rows if not a]
    ab = [t for a, t in rows if a]
    slot, k_rel, k_abs = [], 0, 0
    for a, _ in rows:
        if a:
            slot.append(n + len(rel) + k_abs)
            k_abs += 1
        else:
            slot.append(n + k_rel)
            k_rel += 1

    def resolve(args: list) -> list[int]:
        return [slot[x[1]] if isinstance(x, tuple) else x for x in args]
    nums = (_nums_of(num_toks, None, []) if simple_nums
            else _nums_of([], " ".join(nums_t), nums_args))
    plan = _applier(_getter(rel) if rel else None, _getter(ab) if ab else None,
                    "".join(skel), _getter(resolve(skel_args)),
                    "\x1e" + "".join(fast), _getter(resolve(fast_args)), *nums)
    if plan(text.encode(), origin[0]) != got:
        raise _PlanError(text)
    if any("e" in t or "E" in t for t in got[1]):
        # only a literal with an exponent overflows here (runs of 8+ digits take the
        # general path): the structure's texts are checked like the general path's
        return lambda data, orow: _finite(plan(data, orow))
    return plan


def _applier(rel, ab, t_skel: str, g_skel, t_fast: str, g_fast, nums, as_list: bool):
    """A plan as the function (UTF-8 of a text of its structure, origin row) ->
    skeleton_key: the tokens, the rows' ints appended (`rel`, `ab`: getters of the tokens
    of relative and absolute rows, or None), the templates filled."""
    tokens = _TOKENS
    if rel is None and ab is None:
        def apply(data: bytes, orow: int) -> tuple[str, list[str], str]:
            vals = data.translate(tokens).decode().split()
            return (t_skel % g_skel(vals), list(nums(vals)) if as_list else nums(vals),
                    t_fast % g_fast(vals))
        return apply

    def apply_rows(data: bytes, orow: int) -> tuple[str, list[str], str]:
        vals = data.translate(tokens).decode().split()
        if rel is not None:
            got = rel(vals)
            if type(got) is str:
                vals.append(int(got) - orow)
            elif got.count(got[0]) == len(got):     # a formula reading its own row
                vals += [int(got[0]) - orow] * len(got)
            else:
                vals += [int(x) - orow for x in got]
        if ab is not None:
            got = ab(vals)
            vals += [int(got)] if type(got) is str else [int(x) for x in got]
        return (t_skel % g_skel(vals), list(nums(vals)) if as_list else nums(vals),
                t_fast % g_fast(vals))
    return apply_rows


def skeleton_key(text: str, origin: tuple[int, int]) -> tuple[str, list[str], str] | None:
    """The fast shape key with every number literal replaced by a placeholder, the
    number literals in text order, and the fast shape key itself. Formulas that differ
    only in their constants (`=A2*1.07`, `=A3*1.08` typed by hand: each its own shape)
    share a skeleton, so one parse serves them all (see `template_builder`). None where
    `fast_shape_key` is None, and for array constants. Equal to `_skeleton_key_slow`;
    computed by the plan of the text's structure when there is one (see above)."""
    try:
        data = text.encode()
    except UnicodeEncodeError:          # lone surrogates
        return _skeleton_key_slow(text, origin)
    shape = data.translate(_MARK_DIGITS)
    # a plan found by the exact digit lengths (copied formulas repeat them), else by the
    # structure
    plan = _BY_SHAPE.get((shape, origin[1]))
    if plan is None:
        if "{" in text or '"' in text or "'" in text or "[" in text:
            return None                 # the general path's first test: spares the rest
        plan = _find_plan(shape, data, text, origin)
    if plan is _SLOW:
        return _skeleton_key_slow(text, origin)
    if plan is _NONE:
        return None
    return plan(data, origin[0])


def _find_plan(shape: bytes, data: bytes, text: str, origin: tuple[int, int]):
    """The plan of `text`'s structure (`data`: its UTF-8, `shape`: that with its digits
    marked), built after _PLAN_AFTER texts of it took the general path; _SLOW before.
    Texts are counted by their non-digit characters alone: no collapsing for texts of
    structures met once, and a collision (another placement of runs) only builds early."""
    col = origin[1]
    rough = (data.translate(None, b"0123456789"), col)
    seen = _SEEN.get(rough, 0)
    if seen < _PLAN_AFTER:
        if len(_SEEN) >= _PLAN_CACHE_MAX:
            _SEEN.clear()
        _SEEN[rough] = seen + 1
        return _SLOW
    key = shape
    if b"\xff\xff" in shape:
        if _LONG_RUN in shape:
            return _SLOW
        # runs of up to 7 marks to one mark: each pass halves them
        key = (shape.replace(b"\xff\xff", b"\xff").replace(b"\xff\xff", b"\xff")
               .replace(b"\xff\xff", b"\xff"))
    key = (key, col)
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) >= _PLAN_CACHE_MAX:
            _PLANS.clear()
        try:
            plan = _build_plan(text, origin)
        except _PlanError:
            plan = _SLOW
        _PLANS[key] = plan
    if len(_BY_SHAPE) >= _PLAN_CACHE_MAX:
        _BY_SHAPE.clear()
    _BY_SHAPE[(shape, col)] = plan
    return plan


def parse_template(text: str, origin: tuple[int, int],
                   tokens: list[tuple[str, str]] | None = None) -> tuple[Node, list[Literal]]:
    """Parse like `parse`, also returning the Literal nodes of the number tokens in text
    order (the slots `template_builder` fills)."""
    if text.startswith("="):
        text = text[1:]
    toks = tokens if tokens is not None else tokenize(text)
    p = _Parser(toks, origin)
    p.nums = []
    try:
        return p.parse(), p.nums
    except RecursionError:
        raise FormulaSyntaxError(TOO_DEEP) from None


def template_builder(tree: Node, slots: list[Literal]):
    """A function `values -> tree`: a copy of the template tree with its number slots
    (same order) set to `values`. Only the nodes on a path to a slot are rebuilt; the rest
    (references, names) is shared, which is safe because nothing mutates a tree. Built
    once per template, so filling it costs a few calls, not a walk."""
    index = {id(lit): i for i, lit in enumerate(slots)}
    build = _builder(tree, index)
    if build is None:
        return lambda values: tree
    return build


def _builder(node: Node, index: dict):
    """A closure `values -> node copy`, or None when no slot is below `node` (the copy
    shares `node` itself)."""
    i = index.get(id(node))
    if i is not None:
        return lambda vals: Literal(vals[i])
    t = type(node)
    if t is Func:
        parts = [_builder(a, index) for a in node.args]
        if not any(parts):
            return None
        name = node.name
        parts = [p or (lambda vals, a=a: a) for p, a in zip(parts, node.args)]
        return lambda vals: Func(name, [p(vals) for p in parts])
    if t is Binary:
        if type(node.left) in CHAIN_NODES:
            return _chain_builder(node, index)
        lb, rb = _builder(node.left, index), _builder(node.right, index)
        if lb is None and rb is None:
            return None
        op, left, right = node.op, node.left, node.right
        if rb is None:
            return lambda vals: Binary(op, lb(vals), right)
        if lb is None:
            return lambda vals: Binary(op, left, rb(vals))
        return lambda vals: Binary(op, lb(vals), rb(vals))
    if t is Unary or t is Postfix:
        if t is Postfix and type(node.operand) in CHAIN_NODES:
            return _chain_builder(node, index)
        ob = _builder(node.operand, index)
        if ob is None:
            return None
        op = node.op
        return lambda vals: t(op, ob(vals))
    return None


def _chain_builder(node: Node, index: dict):
    """_builder of a chain of binary and postfix operators (=1+2+...+n: each node the
    left operand of the next), by a loop: a chain may be thousands of nodes long."""
    node, spine = op_chain(node)        # the first operand; operators bottom up
    steps = [(type(n), n.op, n.right if type(n) is Binary else None,
              _builder(n.right, index) if type(n) is Binary else None) for n in spine]
    first = _builder(node, index)       # the chain's first operand
    k, base = 0, None
    if first is None:                   # the nodes below the first slot are shared
        k = next((j for j, st in enumerate(steps) if st[3] is not None), None)
        if k is None:
            return None
        base = spine[k].left
    steps = steps[k:]

    def build(vals):
        cur = base if first is None else first(vals)
        for t, op, right, rb in steps:
            if t is Binary:
                cur = Binary(op, cur, right if rb is None else rb(vals))
            else:
                cur = Postfix(op, cur)
        return cur
    return build


class _Parser:
    def __init__(self, toks: list[tuple[str, str]], origin: tuple[int, int]):
        self.toks = toks
        self.i = 0
        self.origin = origin
        self.nums: list[Literal] | None = None      # parse_template: number literals
        self.depth = 0                              # levels of nesting (MAX_NESTING)

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else ("eof", "")

    def take(self):
        t = self.peek()
        self.i += 1
        return t

    def expect(self, text: str):
        k, t = self.take()
        if t != text:
            raise FormulaSyntaxError(f"expected {text!r}, found {t or 'end of formula'!r}")

    def parse(self) -> Node:
        if not self.toks:
            raise FormulaSyntaxError("empty formula")
        node = self.expr(0, in_parens=False)
        if self.i != len(self.toks):
            raise FormulaSyntaxError(f"unexpected {self.peek()[1]!r}")
        return node

    def expr(self, min_bp: int, in_parens: bool) -> Node:
        left = self.prefix(in_parens)
        while True:
            kind, tok = self.peek()
            if kind == "op" and tok in _BINARY:
                bp = _BINARY[tok]
                if bp <= min_bp:
                    break
                self.i += 1
                right = self.expr(bp, in_parens)   # left-associative (Excel: 2^3^2 = 64)
                left = Binary(tok, left, right)
            elif kind == "op" and tok == "%":
                if _PERCENT_BP <= min_bp:
                    break
                self.i += 1
                left = Postfix("%", left)
            elif kind == "op" and tok == "#":
                self.i += 1
                left = Postfix("#", left)
            elif kind == "op" and tok == ":":
                if _RANGE_BP <= min_bp:
                    break
                self.i += 1
                left = Binary(":", left, self.expr(_RANGE_BP, in_parens))
            elif kind == "isect":
                if _ISECT_BP <= min_bp:
                    break
                self.i += 1
                left = Binary(" ", left, self.expr(_ISECT_BP, in_parens))
            elif kind == "op" and tok == "," and in_parens:
                if _UNION_BP <= min_bp:
                    break
                self.i += 1
                left = Binary(",", left, self.expr(_UNION_BP, in_parens))
            else:
                break
        return left

    def prefix(self, in_parens: bool) -> Node:
        kind, tok = self.take()
        if kind == "num":
            v = float(tok)
            if v == _INF:
                # beyond the largest double (1E309): Excel makes numbers too large #NUM!
                # (KB Q214373); not a slot (skeleton_key has no skeleton for the text)
                return Literal(V.NUM)
            node = Literal(v)
            if self.nums is not None:
                self.nums.append(node)
            return node
        if kind == "str":
            return Literal(tok[1:-1].replace('""', '"'))
        if kind == "bool":
            return Literal(tok.upper() == "TRUE")
        if kind == "err":
            return Literal(V.error(tok))
        if kind == "ref":
            return parse_ref(tok, self.origin)
        if kind == "name":
            book, sheet, _s2, body = _split_prefix(tok)
            if book and sheet is None and self.peek() == ("op", "("):
                # [1]!Macro(...): a macro (VBA, an add-in's) of another workbook, called
                # like a function no implementation serves (see evaluator/unknown.py)
                self.i += 1
                return self.calls(Func(f"[{book}]!{body.upper()}", self.args()))
            return Name(body, sheet, book)
        if kind == "sref":
            # the prefix ('Sheet 1'!, [1]!) and table name end at the first '[' after a
            # [1] book index: the brackets may hold a '!' (Table1[Col!], [@!x])
            book_end = _BOOK_INDEX.match(tok)
            br = tok.index("[", book_end.end() if book_end else 0)
            table = _split_prefix(tok[:br])[3] or None
            return StructRef(table, tok[br + 1:-1])
        if kind == "func":
            name = _PREFIX_RE.sub("", tok[:-1]).upper()
            args = self.args()
            if name == "ANCHORARRAY" and len(args) == 1:
                # the file form of the spill operator: _xlfn.ANCHORARRAY(A1) is A1#
                return self.calls(Postfix("#", args[0]))
            if name == "SINGLE" and len(args) == 1:
                # the file form of the implicit intersection operator: Excel saves some
                # @s as _xlfn.SINGLE(...) (vinci1it2000/formulas#57; formulas/test.xlsx
                # LOGIC!AF8); SINGLE is no function of its own
                return self.calls(Unary("@", args[0]))
            return self.calls(Func(name, args))
        if kind == "op":
            if tok in ("-", "+", "@", "("):
                self.depth += 1
                if self.depth > MAX_NESTING:
                    raise FormulaSyntaxError(TOO_DEEP)
                if tok == "(":
                    node = self.expr(0, in_parens=True)
                    self.expect(")")
                    self.depth -= 1
                    return self.calls(node)
                node = Unary(tok, self.expr(_RANGE_BP - 1 if tok == "@" else _UNARY_BP,
                                            in_parens))
                self.depth -= 1
                return node
            if tok == "{":
                return self.array()
        raise FormulaSyntaxError(f"unexpected {tok or 'end of formula'!r}")

    def calls(self, node: Node) -> Node:
        """`node(args)...`: a lambda called where it is made, =LAMBDA(x,x+1)(2), or a
        function's result called, =MAKE(1)(2). Kept as Func(CALL, [callee, *args]), a name
        no Excel function has. Each call nests the callee one level deeper."""
        depth = self.depth
        while self.peek() == ("op", "("):
            self.i += 1
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise FormulaSyntaxError(TOO_DEEP)
            node = Func(CALL, [node, *self.args()])
        self.depth = depth
        return node

    def args(self) -> list[Node]:
        """A call's arguments, after its '(': one level of nesting deeper."""
        out: list[Node] = []
        if self.peek() == ("op", ")"):
            self.i += 1
            return out
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise FormulaSyntaxError(TOO_DEEP)
        while True:
            if self.peek() in (("op", ","), ("op", ")")):
                out.append(Missing())
            else:
                out.append(self.expr(0, in_parens=False))
            kind, tok = self.take()
            if tok == ")":
                self.depth -= 1
                return out
            if tok != ",":
                raise FormulaSyntaxError(f"expected ',' or ')' in arguments, found {tok!r}")

    def array(self) -> ArrayLit:
        rows: list[list] = [[]]
        while True:
            sign = None
            kind, tok = self.take()
            if tok in ("-", "+"):
                sign = tok
                kind, tok = self.take()
                if kind != "num":
                    # only a number may be signed in an array constant (ECMA-376 Part 4,
                    # Constants): {-"a"} or {-TRUE} is no formula, not "a" or TRUE
                    raise FormulaSyntaxError(f"unexpected {sign!r} in array constant")
            neg = sign == "-"
            if kind == "num":
                v = float(tok)
                rows[-1].append(V.NUM if v == _INF else -v if neg else v)
            elif kind == "str":
                rows[-1].append(tok[1:-1].replace('""', '"'))
            elif kind == "bool":
                rows[-1].append(tok.upper() == "TRUE")
            elif kind == "err" or (kind == "ref" and tok.upper() == "#REF!"):
                rows[-1].append(V.error(tok))
            else:
                raise FormulaSyntaxError(f"unexpected {tok!r} in array constant")
            kind, tok = self.take()
            if tok == ",":
                continue
            if tok == ";":
                rows.append([])
                continue
            if tok == "}":
                break
            raise FormulaSyntaxError(f"unexpected {tok!r} in array constant")
        width = len(rows[0])
        if any(len(r) != width for r in rows):
            raise FormulaSyntaxError("array constant rows differ in length")
        return ArrayLit(rows)


def parse(text: str, origin: tuple[int, int] = (1, 1),
          tokens: list[tuple[str, str]] | None = None) -> Node:
    """Parse formula text (without '=') written at `origin` into a relative-form tree."""
    if text.startswith("="):
        text = text[1:]
    toks = tokens if tokens is not None else tokenize(text)
    try:
        return _Parser(toks, origin).parse()
    except RecursionError:
        raise FormulaSyntaxError(TOO_DEEP) from None
