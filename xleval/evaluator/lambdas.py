"""LET and LAMBDA: local names bound in the evaluation context, lambda values, and calls of
lambdas defined as workbook names (=MYFUNC(2) where MYFUNC refers to =LAMBDA(x, x*2))."""
from __future__ import annotations

import re

from .. import values as V
from ..parser.ast import Func, Name

_PM = re.compile(r"^_xlpm\.", re.I)


class Lambda:
    """A lambda value: parameter names, compiled body, the variables it closed over and
    the number constants of the cell that made it (its body may read them: see
    Context.k and k0)."""

    __slots__ = ("params", "body", "env", "k", "k0")

    def __init__(self, params: list[str], body, env: dict | None, k=None, k0: int = 0):
        self.params = params
        self.body = body
        self.env = env or {}
        self.k = k
        self.k0 = k0

    def __repr__(self):
        return f"Lambda({', '.join(self.params)})"


def _param(node) -> str | None:
    if isinstance(node, Name) and node.sheet is None and node.book is None:
        return _PM.sub("", node.name).upper()
    return None


class EtaLambda(Lambda):
    """A function passed by name where a lambda is expected (BYROW(r, SUM) is stored as
    _xleta.SUM): calling it calls the function."""

    __slots__ = ("spec",)

    def __init__(self, spec):
        super().__init__(["X", "Y", "Z"], None, None)
        self.spec = spec

    def __repr__(self):
        return f"EtaLambda({self.spec.name})"


def call_lambda(lam, args: list, cx):
    """Apply a lambda value to already evaluated arguments."""
    if isinstance(lam, EtaLambda):
        from ..functions.registry import invoke
        return invoke(lam.spec, cx, list(args))
    if not isinstance(lam, Lambda):
        return V.VALUE
    if len(args) > len(lam.params):
        return V.VALUE
    env = dict(lam.env)
    for i, p in enumerate(lam.params):
        env[p] = args[i] if i < len(args) else None
    c2 = cx.with_env(env)
    c2.k = lam.k
    c2.k0 = lam.k0
    return lam.body(c2)


def compile_lambda(compiler, node: Func, sheet: int, info):
    if not node.args:
        return lambda cx: V.VALUE
    params = [_param(a) for a in node.args[:-1]]
    if any(p is None for p in params):
        return lambda cx: V.VALUE
    compiler._locals.extend(params)
    try:
        body = compiler._c(node.args[-1], sheet, info)
    finally:
        del compiler._locals[len(compiler._locals) - len(params):]
    return lambda cx: Lambda(params, body, cx.env, cx.k, cx.k0)


def compile_let(compiler, node: Func, sheet: int, info):
    args = node.args
    if len(args) < 3 or len(args) % 2 == 0:
        return lambda cx: V.VALUE
    names = [_param(a) for a in args[0:-1:2]]
    if any(n is None for n in names):
        return lambda cx: V.VALUE
    compiler._locals.extend(names)
    try:
        vals = [compiler._c(a, sheet, info) for a in args[1:-1:2]]
        calc = compiler._c(args[-1], sheet, info)
    finally:
        del compiler._locals[len(compiler._locals) - len(names):]

    def let(cx):
        env = dict(cx.env or {})
        c2 = cx.with_env(env)
        for n, f in zip(names, vals):
            env[n] = f(c2)
        return calc(c2)
    return let


def compile_named_call(compiler, user, argfns, info):
    """A call of a defined name whose definition is a LAMBDA, compiled where it is called.
    A call inside its own definition (recursion, which Excel allows: FACT_L = LAMBDA(n,
    IF(n<2,1,n*FACT_L(n-1)))) takes the closure being compiled, through `compiler._named`,
    when it runs: compiling the definition again there never ended."""
    tree, scope = user
    key = (id(tree), scope)          # (the engine keeps one tree per name: Engine.name_tree)
    holder = compiler._named.get(key)
    if holder is None:
        holder = compiler._named[key] = []
        try:
            holder.append(compiler._c(tree, scope, info))
        finally:
            del compiler._named[key]
        make = holder[0]
    else:
        def make(cx):
            return holder[0](cx)

    def call(cx):
        lam = make(cx)
        return call_lambda(lam, [f(cx) for f in argfns], cx)
    return call


def compile_local_call(compiler, node: Func, sheet: int, info):
    """A call of a lambda value: `CALL(callee, args...)` (the parser's form of
    =LAMBDA(x,x+1)(2)) or `name(args...)` with `name` a LET name or LAMBDA parameter.
    Anything but a lambda called is #VALUE!, as in Excel."""
    from ..parser.parser import CALL
    if node.name == CALL:
        callee = compiler._c(node.args[0], sheet, info)
        args = node.args[1:]
    else:
        key = node.name[6:] if node.name.startswith("_XLPM.") else node.name
        ev = compiler.ev

        def callee(cx):
            return ev.local_name(cx, key)
        args = node.args
    argfns = [compiler._c(a, sheet, info) for a in args]

    def call(cx):
        lam = callee(cx)
        if isinstance(lam, V.XLError):
            return lam
        return call_lambda(lam, [f(cx) for f in argfns], cx)
    return call
