"""Compile a formula tree into a Python closure `fn(cx) -> value`.

A compiled closure is position-independent: relative references are offsets that are added
to the context's row/column when evaluated, so every cell of a copied-down formula shares one
closure (compiled once per R1C1 shape, per sheet, per array mode). A formula that reads its
own sheet only through unqualified references compiles sheet-free too (the evaluated cell's
sheet is cx.sheet), so the same formula on many sheets shares one closure (see
Engine._shared_shape).

A long chain of binary (and postfix) operators, =A1+A2+...+A500, compiles to one loop, not
a closure per operator: chains can be thousands of operators long (4,000 fit in Excel's
8,192 characters), where nested closures would recurse that deep, compiling and running.
What does recurse is nesting (parentheses, calls, signs), which the parser bounds.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import values as V
from ..functions import registry as R
from ..parser.ast import (CHAIN_NODES, ArrayLit, Binary, Func, Literal, Missing, Name, Node,
                          Postfix, Ref, StructRef, Unary, op_chain)
from ..parser.parser import CALL
from ..refs import MAX_COL, MAX_ROW
from ..values import Array, XLError
from . import operators as O
from .refs import Range, RefList

# Functions the compiler evaluates itself because they must not evaluate every argument.
SPECIAL_FORMS = {"IF", "IFERROR", "IFNA", "CHOOSE", "IFS", "SWITCH", "LET", "LAMBDA"}


@dataclass
class CompileInfo:
    """What compiling one shape found out, for the graph and the run report."""
    unsupported: set[str] = field(default_factory=set)
    dynamic: bool = False          # INDIRECT/OFFSET/...: dependencies known only at run time
    volatile: bool = False
    functions: set[str] = field(default_factory=set)


_INF = float("inf")


def _local_key(name: str) -> str:
    """A LET name / LAMBDA parameter as bound (files write them `_xlpm.x`)."""
    return name[6:] if name.startswith("_XLPM.") else name


def _fast_add(a: float, b: float):
    r = a + b
    if -_INF < r < _INF and (r == 0 or abs(r) >= 1e-15 * max(abs(a), abs(b))):
        return r
    return None            # a sum Excel snaps to zero, or an overflow: the general path


def _fast_sub(a: float, b: float):
    r = a - b
    if -_INF < r < _INF and (r == 0 or abs(r) >= 1e-15 * max(abs(a), abs(b))):
        return r
    return None


def _fast_mul(a: float, b: float):
    r = a * b
    return r if -_INF < r < _INF else None


def _fast_div(a: float, b: float):
    if b == 0:
        return None
    r = a / b
    return r if -_INF < r < _INF else None


# float-and-float fast paths of the arithmetic operators (see Compiler._binary)
_FLOAT_FAST = {"+": _fast_add, "-": _fast_sub, "*": _fast_mul, "/": _fast_div}

# A chain of more operators than this compiles to a loop (Compiler._chain); shorter ones,
# nearly every formula's, to a closure per operator.
CHAIN_LOOP = 16


def _long_chain(node: Node) -> bool:
    """Is `node` the top of a chain of more than CHAIN_LOOP binary/postfix operators, each
    the left operand of the next?"""
    n = 0
    while n <= CHAIN_LOOP:
        t = type(node)
        if t is Binary:
            node = node.left
        elif t is Postfix:
            node = node.operand
        else:
            return False
        n += 1
    return True


class Compiler:
    def __init__(self, engine):
        self.ev = engine
        self._slots: dict | None = None      # id(Literal) -> its index among cx's numbers
        self._locals: list[str] = []         # LET names / LAMBDA parameters in scope
        self._named: dict[tuple, list] = {}  # LAMBDA defined names being compiled

    def compile(self, node: Node, sheet: int, array_mode: bool,
                info: CompileInfo | None = None, slots: list | None = None):
        """Return (closure, info). `sheet` None compiles a sheet-free closure: its
        unqualified references are on the evaluated cell's sheet (cx.sheet), so one closure
        serves the formula on every sheet; only for trees Engine._sheet_free accepts (no
        defined names, LAMBDA/LET or unknown functions, whose compiling looks the sheet
        up). `slots`: Literal nodes of `node` that become parameters: the closure reads
        the i-th from the cell's constants (`cx.k[cx.k0 + i]`, see Context) instead of
        baking in the literal's value, so one closure serves every formula of a family
        (formulas that differ only in their numbers, see Engine._family_shape)."""
        info = info or CompileInfo()
        prev, self._slots = self._slots, ({id(n): i for i, n in enumerate(slots)}
                                          if slots else None)
        try:
            if array_mode and type(node) is Func:    # see registry.invoke_filling
                fn = self._func(node, sheet, info, top=True)
            else:
                fn = self._c(node, sheet, info)
        finally:
            self._slots = prev
        return fn, info

    # -----------------------------------------------------------------------------------
    def _c(self, node: Node, sheet: int, info: CompileInfo):
        t = type(node)
        if t is Literal:
            if self._slots is not None:
                i = self._slots.get(id(node))
                if i is not None:
                    return lambda cx: cx.k[cx.k0 + i]
            v = node.value
            return lambda cx: v
        if t is Ref:
            return self._ref(node, sheet)
        if t is Binary:
            if type(node.left) in CHAIN_NODES and _long_chain(node):
                return self._chain(node, sheet, info)
            return self._binary(node, sheet, info)
        if t is Unary:
            f = self._c(node.operand, sheet, info)
            ev = self.ev
            if node.op == "-":
                def neg(cx):
                    return O.lift1(O.negate, ev.value_of(f(cx), cx))
                return neg
            if node.op == "@":
                def at(cx):
                    v = f(cx)
                    if isinstance(v, (Range, RefList)):
                        return ev.implicit_intersection(v, cx)
                    if isinstance(v, Array):
                        return v.rows[0][0]
                    return v
                return at
            return f
        if t is Postfix:
            if type(node.operand) in CHAIN_NODES and _long_chain(node):
                return self._chain(node, sheet, info)
            f = self._c(node.operand, sheet, info)
            ev = self.ev
            if node.op == "%":
                return lambda cx: O.lift1(O.percent, ev.value_of(f(cx), cx))
            # spill reference A1#: the anchor's spilled range
            return lambda cx: ev.spill_range(f(cx))
        if t is ArrayLit:
            arr = Array([list(r) for r in node.rows])
            return lambda cx: arr
        if t is Func:
            return self._func(node, sheet, info)
        if t is Name:
            return self._name(node, sheet, info)
        if t is StructRef:
            return self._structref(node, sheet)
        if t is Missing:
            return lambda cx: R.OMITTED
        raise TypeError(f"cannot compile {node!r}")

    def _ref(self, ref: Ref, sheet: int):
        ev = self.ev
        if ref.invalid:
            return lambda cx: V.REF
        try:
            sheets = ev.resolve_sheets(ref.sheet, ref.sheet2, ref.book, sheet)
        except KeyError:
            return lambda cx: V.REF
        r1, c1, r2, c2 = ref.row1, ref.col1, ref.row2, ref.col2
        a1, b1, a2, b2 = ref.row1_abs, ref.col1_abs, ref.row2_abs, ref.col2_abs

        def bounds(cx):
            rr1 = r1 if a1 else cx.row + r1
            cc1 = c1 if b1 else cx.col + c1
            rr2 = r2 if a2 else cx.row + r2
            cc2 = c2 if b2 else cx.col + c2
            # relative references wrap around the sheet edge like Excel's copy does
            if not (a1 and a2 and b1 and b2):
                if not a1:
                    rr1 = (rr1 - 1) % MAX_ROW + 1
                if not a2:
                    rr2 = (rr2 - 1) % MAX_ROW + 1
                if not b1:
                    cc1 = (cc1 - 1) % MAX_COL + 1
                if not b2:
                    cc2 = (cc2 - 1) % MAX_COL + 1
            if rr1 > rr2:
                rr1, rr2 = rr2, rr1
            if cc1 > cc2:
                cc1, cc2 = cc2, cc1
            return rr1, cc1, rr2, cc2

        if len(sheets) == 1:
            s0 = sheets[0]
            if s0 is None:
                return _own_sheet_ref(r1, c1, r2, c2, a1, b1, a2, b2, bounds)
            if a1 and a2 and b1 and b2:
                rng = Range(s0, min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2))
                return lambda cx: rng
            if r1 == r2 and c1 == c2 and not a1 and not b1:
                def cell(cx):
                    return Range(s0, cx.row + r1, cx.col + c1, cx.row + r1, cx.col + c1)
                return cell
            return lambda cx: Range(s0, *bounds(cx))
        return lambda cx: RefList([Range(s, *bounds(cx)) for s in sheets])

    def _binary(self, node: Binary, sheet: int, info: CompileInfo):
        lf = self._c(node.left, sheet, info)
        rf = self._c(node.right, sheet, info)
        ev = self.ev
        op = node.op
        if op == ":":
            return lambda cx: ev.range_op(lf(cx), rf(cx))
        if op == " ":
            return lambda cx: ev.intersect_op(lf(cx), rf(cx))
        if op == ",":
            return lambda cx: ev.union_op(lf(cx), rf(cx))
        lift2 = O.lift2
        scalar = O.scalar_binary
        value_of = ev.value_of

        def fn2(a, b):
            return scalar(op, a, b)

        fast = _FLOAT_FAST.get(op)
        if fast is not None:
            # two plain numbers, the usual case: the operator inline, exactly as
            # operators._arith computes it; any other case (errors, text, arrays, a result
            # to snap to zero, overflow, a zero divisor) takes the general path
            def binary_num(cx):
                a = value_of(lf(cx), cx)
                b = value_of(rf(cx), cx)
                if type(a) is float and type(b) is float:
                    r = fast(a, b)
                    if r is not None:
                        return r
                return lift2(fn2, a, b)
            return binary_num

        def binary(cx):
            return lift2(fn2, value_of(lf(cx), cx), value_of(rf(cx), cx))
        return binary

    def _chain(self, node: Node, sheet: int, info: CompileInfo):
        """A long chain of binary/postfix operators (see _long_chain) as one loop over its
        operators, bottom up: each step computes exactly what _binary's closure (or the
        postfix's) computes from the value so far and its right operand, in the same
        order (left operand first)."""
        node, spine = op_chain(node)
        first = self._c(node, sheet, info)
        ev = self.ev
        steps = []                # (kind, fn, fn2, right operand's closure)
        for n in spine:
            op = n.op
            if type(n) is Postfix:
                steps.append((_PERCENT if op == "%" else _SPILL, None, None, None))
            elif op in (":", " ", ","):
                ref_op = {":": ev.range_op, " ": ev.intersect_op, ",": ev.union_op}[op]
                steps.append((_REF_OP, ref_op, None, self._c(n.right, sheet, info)))
            else:
                steps.append((_SCALAR, _FLOAT_FAST.get(op), _scalar_fn(op),
                              self._c(n.right, sheet, info)))
        steps = tuple(steps)
        value_of = ev.value_of
        spill_range = ev.spill_range
        lift1, lift2, percent = O.lift1, O.lift2, O.percent

        def chain(cx):
            a = first(cx)
            for kind, fn, fn2, rf in steps:
                if kind is _SCALAR:       # fn: the float fast path (_FLOAT_FAST) or None
                    a = value_of(a, cx)
                    b = value_of(rf(cx), cx)
                    if fn is not None and type(a) is float and type(b) is float:
                        r = fn(a, b)
                        if r is not None:
                            a = r
                            continue
                    a = lift2(fn2, a, b)
                elif kind is _REF_OP:     # fn: the engine's range/intersect/union operator
                    a = fn(a, rf(cx))
                elif kind is _PERCENT:
                    a = lift1(percent, value_of(a, cx))
                else:
                    a = spill_range(a)
            return a
        return chain

    def _name(self, node: Name, sheet: int, info: CompileInfo):
        ev = self.ev
        if node.name.upper().startswith("_XLETA.") and node.sheet is None:
            fname = node.name[7:].upper()
            spec = ev.function(fname)
            if spec is None:
                info.unsupported.add(fname)
                return lambda cx: V.NAME
            from .lambdas import EtaLambda
            eta = EtaLambda(spec)
            return lambda cx: eta
        target = ev.name_tree(node.name, node.sheet, node.book, sheet)
        if target is None:
            # LAMBDA parameters and LET variables are looked up in the context at run time
            # (a bare function name is #NAME? in a cell; files store eta lambdas as _xleta.X)
            key = node.name.upper()
            return lambda cx: ev.local_name(cx, key)
        tree, scope_sheet = target
        return self._c(tree, scope_sheet, info)

    def _structref(self, node: StructRef, sheet: int):
        ev = self.ev
        table, spec = node.table, node.spec
        return lambda cx: ev.structured_ref(table, spec, cx)

    def _func(self, node: Func, sheet: int, info: CompileInfo, top: bool = False):
        """A function call; `top`: the top-level call of an array formula."""
        name = node.name
        ev = self.ev
        if name == CALL or self._locals and _local_key(name) in self._locals:
            # a lambda value called: made in place, =LAMBDA(x,x+1)(2), or bound by LET /
            # a LAMBDA parameter, =LET(f,LAMBDA(x,x*2),f(3))
            from .lambdas import compile_local_call
            return compile_local_call(self, node, sheet, info)
        info.functions.add(name)
        if name in ("LET", "LAMBDA"):
            return self._let_lambda(node, sheet, info)
        argfns = [self._c(a, sheet, info) for a in node.args]
        if name in SPECIAL_FORMS:
            return self._special(name, argfns, node)
        spec = ev.function(name)
        if spec is None:
            user = ev.lambda_name(name, sheet)
            if user is not None:
                from .lambdas import compile_named_call
                return compile_named_call(self, user, argfns, info)
            info.unsupported.add(name)
            return lambda cx: V.NAME
        # arguments of array-typed parameters are evaluated as arrays, as Excel does
        for i, f in enumerate(argfns):
            if spec.kind(i) == R.ARRAY or i in spec.array_args:
                argfns[i] = (lambda f: lambda cx: f(cx.as_array()))(f)
        if spec.volatile:
            info.volatile = True
        if spec.dynamic_ref:
            info.dynamic = True
        lazy = [spec.kind(i) == R.LAZY for i in range(len(argfns))]
        invoke = R.invoke_filling if top and spec.fills_range else R.invoke
        if any(lazy):
            def call_lazy(cx):
                args = [(lambda f=f: f(cx)) if lz else f(cx) for f, lz in zip(argfns, lazy)]
                return invoke(spec, cx, args)
            return call_lazy
        if len(argfns) == 1:
            f0 = argfns[0]
            return lambda cx: invoke(spec, cx, [f0(cx)])
        if len(argfns) == 2:
            f0, f1 = argfns
            return lambda cx: invoke(spec, cx, [f0(cx), f1(cx)])
        return lambda cx: invoke(spec, cx, [f(cx) for f in argfns])

    # -----------------------------------------------------------------------------------
    def _special(self, name: str, argfns: list, node: Func):
        ev = self.ev
        value_of = ev.value_of
        n = len(argfns)

        def arg(i, cx):
            v = argfns[i](cx)
            return None if v is R.OMITTED else v

        def val(i, cx):
            return value_of(arg(i, cx), cx)

        if name == "IF":
            if n < 1 or n > 3:
                return lambda cx: V.VALUE

            def if_(cx):
                cond = val(0, cx)
                if isinstance(cond, Array):
                    t = value_of(arg(1, cx), cx) if n > 1 else True
                    f = value_of(arg(2, cx), cx) if n > 2 else False
                    return _select(cond, t, f)
                b = _truth(cond)
                if isinstance(b, XLError):
                    return b
                if b:
                    if n < 2:
                        return True
                    v = argfns[1](cx)
                    return 0.0 if v is R.OMITTED else v
                if n < 3:
                    return False
                v = argfns[2](cx)
                return 0.0 if v is R.OMITTED else v
            return if_
        if name in ("IFERROR", "IFNA"):
            if n != 2:
                return lambda cx: V.VALUE
            only_na = name == "IFNA"

            def iferror(cx):
                v = val(0, cx)
                if isinstance(v, Array):
                    fb = None
                    rows = []
                    for row in v.rows:
                        out = []
                        for x in row:
                            if isinstance(x, XLError) and (not only_na or x == V.NA):
                                if fb is None:
                                    fb = value_of(arg(1, cx), cx)
                                # an array fallback pairs with the value elementwise (a
                                # single row or column repeats; beyond it #N/A), as
                                # Excel-saved formulas/test.xlsx LOGICAL!AH9:AI9 show
                                x = (_pair_at(fb, len(rows), len(out))
                                     if isinstance(fb, Array) else fb)
                                if x is None:
                                    x = 0.0
                            out.append(x)
                        rows.append(out)
                    return Array(rows)
                if isinstance(v, XLError) and (not only_na or v == V.NA):
                    w = arg(1, cx)
                    return 0.0 if w is None else w
                return v
            return iferror
        if name == "CHOOSE":
            def choose(cx):
                if n < 2:
                    return V.VALUE
                k = val(0, cx)
                if isinstance(k, Array):
                    return _choose_array(k, [value_of(arg(i, cx), cx) for i in range(1, n)])
                idx = V.to_number(k)
                if isinstance(idx, XLError):
                    return idx
                i = int(idx)
                if i < 1 or i >= n:
                    return V.VALUE
                v = argfns[i](cx)
                return 0.0 if v is R.OMITTED else v
            return choose
        if name == "IFS":
            def ifs(cx):
                if n < 2 or n % 2:
                    return V.VALUE
                for i in range(0, n, 2):
                    c = val(i, cx)
                    if isinstance(c, Array):
                        if c.nrows * c.ncols > 1:
                            return _ifs_array(c, i, n, val, cx)
                        c = c.rows[0][0]
                    b = _truth(c)
                    if isinstance(b, XLError):
                        return b
                    if b:
                        return arg(i + 1, cx)
                return V.NA
            return ifs
        if name == "SWITCH":
            def switch(cx):
                if n < 3:
                    return V.VALUE
                x = val(0, cx)
                if isinstance(x, Array) and x.nrows * x.ncols > 1:
                    return _switch_array(x, n, val, cx)
                if isinstance(x, Array):
                    x = x.rows[0][0]
                if isinstance(x, XLError):
                    return x
                i = 1
                while i + 1 < n:
                    c = val(i, cx)
                    if isinstance(c, Array):
                        c = c.rows[0][0]
                    if isinstance(c, XLError):
                        return c
                    if _switch_match(x, c):
                        return arg(i + 1, cx)
                    i += 2
                if i < n:
                    return arg(i, cx)
                return V.NA
            return switch
        raise AssertionError(name)

    def _let_lambda(self, node: Func, sheet: int, info: CompileInfo):
        from .lambdas import compile_lambda, compile_let
        if node.name == "LET":
            return compile_let(self, node, sheet, info)
        return compile_lambda(self, node, sheet, info)


# the kinds of steps of Compiler._chain
_SCALAR, _REF_OP, _PERCENT, _SPILL = "scalar", "ref", "%", "#"


def _scalar_fn(op: str):
    """The `fn2` of _binary: the scalar operator `op` for O.lift2."""
    scalar = O.scalar_binary

    def fn2(a, b):
        return scalar(op, a, b)
    return fn2


def _own_sheet_ref(r1, c1, r2, c2, a1, b1, a2, b2, bounds):
    """An unqualified reference of a sheet-free closure (Compiler.compile with sheet None):
    on the evaluated cell's sheet."""
    if a1 and a2 and b1 and b2:
        # one Range per sheet, made once (a bound closure's fixed range is made once too)
        rr1, cc1, rr2, cc2 = min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)
        by_sheet: dict[int, Range] = {}

        def fixed(cx):
            rng = by_sheet.get(cx.sheet)
            if rng is None:
                rng = by_sheet[cx.sheet] = Range(cx.sheet, rr1, cc1, rr2, cc2)
            return rng
        return fixed
    if r1 == r2 and c1 == c2 and not a1 and not b1:
        def cell(cx):
            return Range(cx.sheet, cx.row + r1, cx.col + c1, cx.row + r1, cx.col + c1)
        return cell
    return lambda cx: Range(cx.sheet, *bounds(cx))


def _truth(v):
    if v is None:
        return False
    if isinstance(v, str):
        u = v.upper()
        if u == "TRUE":
            return True
        if u == "FALSE":
            return False
        return V.VALUE
    return V.to_bool(v)


def _select(cond: Array, t, f):
    def pick(c, a, b):
        if isinstance(c, XLError):
            return c
        bb = _truth(c)
        if isinstance(bb, XLError):
            return bb
        v = a if bb else b
        return 0.0 if v is None else v
    tt = t if isinstance(t, Array) else None
    ff = f if isinstance(f, Array) else None
    nr = max(cond.nrows, tt.nrows if tt else 1, ff.nrows if ff else 1)
    nc = max(cond.ncols, tt.ncols if tt else 1, ff.ncols if ff else 1)
    if V.too_large(nr, nc):
        return V.NUM
    return Array([[pick(cond.get(r, c), tt.get(r, c) if tt else t, ff.get(r, c) if ff else f)
                   for c in range(nc)] for r in range(nr)])


def _choose_array(index: Array, vals: list):
    """CHOOSE with an array of indexes, element by element like IF with an array condition:
    element (r, c) is element (r, c) of the value its index picks, every array broadcast
    to the largest (a single row or column repeats, beyond an array's edge is #N/A)."""
    arrays = [index] + [v for v in vals if isinstance(v, Array)]
    nr = max(a.nrows for a in arrays)
    nc = max(a.ncols for a in arrays)
    if V.too_large(nr, nc):
        return V.NUM

    def pick(r: int, c: int):
        x = index.get(r, c)
        if isinstance(x, XLError):
            return x
        idx = V.to_number(x)
        if isinstance(idx, XLError):
            return idx
        i = int(idx)
        if i < 1 or i > len(vals):
            return V.VALUE
        v = vals[i - 1]
        if isinstance(v, Array):
            v = v.get(r, c)
        return 0.0 if v is None else v
    return Array([[pick(r, c) for c in range(nc)] for r in range(nr)])


def _switch_match(x, c) -> bool:
    """SWITCH's equality: same type and equal (text case-insensitively); a blank matches a
    blank or the number 0 only (not "" or FALSE, unlike the = operator)."""
    if x is None or c is None:
        other = c if x is None else x
        return other is None or (isinstance(other, float) and other == 0)
    return type(c) is type(x) and V.compare(x, c) == 0


def _ifs_array(first, start: int, n: int, val, cx):
    """IFS with array conditions: evaluated element by element (all arguments evaluated)."""
    conds = [first] + [val(i, cx) for i in range(start + 2, n, 2)]
    vals = [val(i, cx) for i in range(start + 1, n, 2)]
    items = conds + vals
    nr = max(x.nrows if isinstance(x, Array) else 1 for x in items)
    nc = max(x.ncols if isinstance(x, Array) else 1 for x in items)
    if V.too_large(nr, nc):
        return V.NUM

    def el(x, r, c):
        v = x.get(r, c) if isinstance(x, Array) else x
        return 0.0 if v is None else v

    rows = []
    for r in range(nr):
        row = []
        for c in range(nc):
            out = V.NA
            for cond, v in zip(conds, vals):
                cv = el(cond, r, c)
                if isinstance(cv, XLError):
                    out = cv
                    break
                b = _truth(cv)
                if isinstance(b, XLError):
                    out = b
                    break
                if b:
                    out = el(v, r, c)
                    break
            row.append(out)
        rows.append(row)
    return Array(rows)


def _switch_array(x, n: int, val, cx):
    """SWITCH over an array expression, element by element."""
    args = [val(i, cx) for i in range(1, n)]
    pairs = [(args[i], args[i + 1]) for i in range(0, len(args) - 1, 2)]
    default = args[-1] if len(args) % 2 else None
    items = [x] + args
    nr = max(a.nrows if isinstance(a, Array) else 1 for a in items)
    nc = max(a.ncols if isinstance(a, Array) else 1 for a in items)
    if V.too_large(nr, nc):
        return V.NUM

    def el(a, r, c):
        return a.get(r, c) if isinstance(a, Array) else a

    rows = []
    for r in range(nr):
        row = []
        for c in range(nc):
            xv = el(x, r, c)
            out = V.NA
            if isinstance(xv, XLError):
                out = xv
            else:
                for case, res in pairs:
                    cv = el(case, r, c)
                    if isinstance(cv, XLError):
                        out = cv
                        break
                    if _switch_match(xv, cv):
                        out = el(res, r, c)
                        break
                else:
                    if default is not None:
                        out = el(default, r, c)
            row.append(out)
        rows.append(row)
    return Array(rows)


def _pair_at(a: Array, i: int, j: int):
    """Element (i, j) of `a` broadcast against a larger array, as Excel's elementwise
    functions pair their arguments: a single row or column repeats, beyond it is #N/A."""
    rows = a.rows
    nr = len(rows)
    nc = len(rows[0]) if nr else 0
    if nr == 1:
        i = 0
    if nc == 1:
        j = 0
    if i < nr and j < nc:
        return rows[i][j]
    return V.NA
