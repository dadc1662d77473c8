"""Excel formula parser (precedence climbing over the token list) and the R1C1 shape key
that lets copied-down formulas share one parse.

Excel precedence, loosest to tightest: comparison (= <> < <= > >=), &, + -, * /, ^,
unary -/+ (so -2^2 = 4), %, union (,) inside parentheses, intersection (space), range (:).
"""
from __future__ import annotations

import re

from .. import values as V
from ..refs import MAX_COL, MAX_ROW, col_to_num
from .ast import (ArrayLit, Binary, Func, Literal, Missing, Name, Node, Postfix, Ref,
                  StructRef, Unary)
from .tokenizer import FormulaSyntaxError, tokenize

_BINARY = {"=": 1, "<>": 1, "<": 1, "<=": 1, ">": 1, ">=": 1, "&": 2, "+": 3, "-": 3,
           "*": 4, "/": 4, "^": 5}
_UNARY_BP = 6
_PERCENT_BP = 7
_UNION_BP = 8
_ISECT_BP = 9
_RANGE_BP = 10

CALL = "@CALL"         # Func name of a call of a computed lambda (see _Parser.calls)
_PREFIX_RE = re.compile(r"^(?:_xlfn\.|_xlws\.|_xludf\.)+", re.I)
_CELL_PART = re.compile(r"^(\$?)([A-Za-z]{1,3})(\$?)([0-9]{1,7})$")
_COL_PART = re.compile(r"^(\$?)([A-Za-z]{1,3})$")
_ROW_PART = re.compile(r"^(\$?)([0-9]{1,7})$")


def _split_prefix(tok: str) -> tuple[int | None, str | None, str | None, str]:
    """'[1]Sheet1:Sheet3'!A1 -> (book, sheet, sheet2, body)."""
    if "!" not in tok:
        return None, None, None, tok
    # the body never contains '!' except '#REF!'
    if tok.endswith("#REF!") and tok.count("!") >= 2:
        idx = tok[:-5].rindex("!")
    elif tok.endswith("#REF!") and tok.count("!") == 1:
        return None, None, None, tok
    else:
        idx = tok.rindex("!")
    prefix, body = tok[:idx], tok[idx + 1:]
    if prefix.startswith("'") and prefix.endswith("'"):
        prefix = prefix[1:-1].replace("''", "'")
    book = None
    if prefix.startswith("["):
        close = prefix.index("]")
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


def skeleton_key(text: str, origin: tuple[int, int]) -> tuple[str, list[str], str] | None:
    """The fast shape key with every number literal replaced by a placeholder, the
    number literals in text order, and the fast shape key itself. Formulas that differ
    only in their constants (`=A2*1.07`, `=A3*1.08` typed by hand: each its own shape)
    share a skeleton, so one parse serves them all (see `template_builder`). None where
    `fast_shape_key` is None, and for array constants."""
    if "{" in text or '"' in text or "'" in text or "[" in text or \
            "!" in text and _BANG_REF.search(text):
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
    return skel, nums, "\x1e" + "".join(out)


def parse_template(text: str, origin: tuple[int, int],
                   tokens: list[tuple[str, str]] | None = None) -> tuple[Node, list[Literal]]:
    """Parse like `parse`, also returning the Literal nodes of the number tokens in text
    order (the slots `template_builder` fills)."""
    if text.startswith("="):
        text = text[1:]
    p = _Parser(tokens if tokens is not None else tokenize(text), origin)
    p.nums = []
    return p.parse(), p.nums


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
        ob = _builder(node.operand, index)
        if ob is None:
            return None
        op = node.op
        return lambda vals: t(op, ob(vals))
    return None


class _Parser:
    def __init__(self, toks: list[tuple[str, str]], origin: tuple[int, int]):
        self.toks = toks
        self.i = 0
        self.origin = origin
        self.nums: list[Literal] | None = None      # parse_template: number literals

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
            node = Literal(float(tok))
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
            return Name(body, sheet, book)
        if kind == "sref":
            book, sheet, _s2, body = _split_prefix(tok)
            br = body.index("[")
            table = body[:br] or None
            return StructRef(table, body[br + 1:-1])
        if kind == "func":
            name = _PREFIX_RE.sub("", tok[:-1]).upper()
            return self.calls(Func(name, self.args()))
        if kind == "op":
            if tok in ("-", "+"):
                operand = self.expr(_UNARY_BP - 1 if False else _UNARY_BP, in_parens)
                return Unary(tok, operand)
            if tok == "@":
                return Unary("@", self.expr(_RANGE_BP - 1, in_parens))
            if tok == "(":
                node = self.expr(0, in_parens=True)
                self.expect(")")
                return self.calls(node)
            if tok == "{":
                return self.array()
        raise FormulaSyntaxError(f"unexpected {tok or 'end of formula'!r}")

    def calls(self, node: Node) -> Node:
        """`node(args)...`: a lambda called where it is made, =LAMBDA(x,x+1)(2), or a
        function's result called, =MAKE(1)(2). Kept as Func(CALL, [callee, *args]), a name
        no Excel function has."""
        while self.peek() == ("op", "("):
            self.i += 1
            node = Func(CALL, [node, *self.args()])
        return node

    def args(self) -> list[Node]:
        out: list[Node] = []
        if self.peek() == ("op", ")"):
            self.i += 1
            return out
        while True:
            if self.peek() in (("op", ","), ("op", ")")):
                out.append(Missing())
            else:
                out.append(self.expr(0, in_parens=False))
            kind, tok = self.take()
            if tok == ")":
                return out
            if tok != ",":
                raise FormulaSyntaxError(f"expected ',' or ')' in arguments, found {tok!r}")

    def array(self) -> ArrayLit:
        rows: list[list] = [[]]
        while True:
            neg = False
            kind, tok = self.take()
            if tok in ("-", "+"):
                neg = tok == "-"
                kind, tok = self.take()
            if kind == "num":
                v = float(tok)
                rows[-1].append(-v if neg else v)
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
    return _Parser(toks, origin).parse()
