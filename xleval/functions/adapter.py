"""Excel functions xleval does not implement natively, served by the `formulas` package.

`formulas_function(name)` returns a FunctionSpec (source="formulas") whose body converts our
arguments into what a `formulas` implementation expects, calls it, and converts the result
back. `lookup_function` falls back to it when no native function exists.

How formulas calls its functions (and so what the adapter imitates)
  * scalars arrive as Python float/int/str/bool, errors as `XlError` tokens (a str
    subclass), an empty cell as `schedula.EMPTY`;
  * a reference arrives as a `Ranges` object that `wrap_ranges_func` turns into its values:
    a 2-D numpy object array with `EMPTY` for blank cells. The adapter passes such arrays
    directly (array constants and references alike);
  * entries of `get_functions()` that are dicts carry `extra_inputs` passed before the
    arguments (the `COMPILING` flag, False at run time; the calling `Cell`; the dispatcher);
  * results are Python or numpy scalars, 0-d/1x1/2-D numpy arrays (often its `Array`
    subclass), nested arrays, errors; `wrap_func` already turns most exceptions into a
    1x1 #VALUE! array, the adapter catches whatever still escapes.

Argument kinds
  formulas functions do not declare which parameters are scalars and which arrays, so the
  adapter carries a table (`_PATTERNS`, from Excel's signatures) of the parameters that take
  arrays/ranges; all others are scalar parameters, which the registry implicitly intersects
  or broadcasts elementwise exactly like native functions. Letters:
    s  SCALAR (errors short-circuit)      e  ANY (errors passed in: ISERROR, ERROR.TYPE...)
    a  ARRAY  (evaluated as an array, reference expanded to its values)
    r  RAW    (aggregate arguments: a reference is expanded, a typed scalar stays a scalar
              so SUM(1,"2") counts the text while text inside ranges is ignored)
    l  RAW    (a LAMBDA argument: our lambda values become Python callables)
  "xy|zw" means x, y, then z, w repeating (SUMIFS: "a|as"); otherwise the last letter
  repeats.

Functions that cannot be adapted (formulas_function returns None; see `UNADAPTABLE`):
  ROW, COLUMN, SINGLE          need the calling cell, which formulas passes as a Cell object
  ROWS, COLUMNS, AREAS, ISREF  need a formulas `Ranges` reference; given the values they
                               answer #VALUE!/FALSE
  ISFORMULA                    needs formulas' own dispatcher and a reference
  ARRAY, ARRAYROW, DUMMYFUNCTION  formulas internals / Google Sheets export placeholder,
                               not Excel functions
  RANDBETWEEN, REGEXTEST       formulas' results disagree with Excel (non-integer random
                               numbers; a match anchored at the start of the text)
  BAHTTEXT, GROUPBY, PIVOTBY  only while the optional package formulas imports for them
                               (bahttext, pandas) is missing
  FORECAST.ETS*                native (statistical.py); formulas' versions need statsmodels
Partially adapted (values only): INDEX and TRIMRANGE return values, never a reference (so
`A1:INDEX(...)` cannot use them); SUMIF/AVERAGEIF do not resize a differently sized
sum_range the way Excel does with references; LAMBDA-taking functions (BYROW, BYCOL, MAP,
REDUCE, SCAN, MAKEARRAY, GROUPBY, PIVOTBY) pass each row/column to the lambda as a
one-row array.

Specs are cached per name and hold no formulas objects (formulas' compiled functions do not
pickle): the body is an `_Adapted` instance that stores only the name and resolves the
implementation at call time.
"""
from __future__ import annotations

import math
import warnings

from .. import values as V
from ..evaluator.refs import Range, RefList
from ..values import Array, XLError
from . import registry as R
from .catalog import EXCEL_FUNCTIONS, VOLATILE_FUNCTIONS
from .registry import FunctionSpec

_PREFIXES = ("_XLFN._XLWS.", "_XLFN.", "_XLWS.", "__XLUDF.", "_XLUDF.")

UNADAPTABLE: dict[str, str] = {
    "ROW": "needs the calling cell (formulas passes its Cell object)",
    "COLUMN": "needs the calling cell (formulas passes its Cell object)",
    "SINGLE": "the @ operator; needs the calling cell",
    "ROWS": "needs a formulas Ranges reference argument",
    "COLUMNS": "needs a formulas Ranges reference argument",
    "AREAS": "needs a formulas Ranges reference argument",
    "ISREF": "needs a formulas Ranges reference argument",
    "ISFORMULA": "needs formulas' dispatcher and a reference",
    "ARRAY": "formulas internal (array literal), not an Excel function",
    "ARRAYROW": "formulas internal (array literal row), not an Excel function",
    "DUMMYFUNCTION": "Google Sheets export placeholder, not an Excel function",
    # implementations that disagree with Excel: better missing than silently wrong
    "RANDBETWEEN": "formulas returns a non-integer (bottom + (top-bottom)*RAND())",
    "REGEXTEST": "formulas anchors the match at the start of the text; Excel tests whether "
                 "any part matches",
    # native in statistical.py; formulas' versions need statsmodels and number the
    # aggregation codes differently from Excel
    **dict.fromkeys(("FORECAST.ETS", "FORECAST.ETS.CONFINT", "FORECAST.ETS.SEASONALITY",
                     "FORECAST.ETS.STAT"), "native: statistical.py"),
}

# implementations importing an optional package on call
_NEEDS_MODULE: dict[str, str] = {
    "BAHTTEXT": "bahttext",
    "GROUPBY": "pandas",
    "PIVOTBY": "pandas",
}

# parameters taking arrays/ranges (see module docstring); unlisted functions: all scalar
_PATTERNS: dict[str, str] = {}


def _pat(pattern: str, *names: str) -> None:
    for n in names:
        _PATTERNS[n] = pattern


_pat("r", "AND", "OR", "XOR", "AVEDEV", "AVERAGE", "AVERAGEA", "COUNT", "COUNTA", "DEVSQ",
     "GCD", "LCM", "GEOMEAN", "HARMEAN", "KURT", "MAX", "MAXA", "MIN", "MINA", "MEDIAN",
     "MODE", "MODE.MULT", "MODE.SNGL", "MULTINOMIAL", "PRODUCT", "SKEW", "SKEW.P", "STDEV",
     "STDEV.P", "STDEV.S", "STDEVA", "STDEVP", "STDEVPA", "SUM", "SUMSQ", "VAR", "VAR.P",
     "VAR.S", "VARA", "VARP", "VARPA", "CONCAT", "IMSUM", "IMPRODUCT")
_pat("sr", "NPV")
_pat("ssr", "TEXTJOIN")
_pat("e", "ERROR.TYPE", "ISBLANK", "ISERR", "ISERROR", "ISLOGICAL", "ISNA",
     "ISNONTEXT", "ISNUMBER", "ISTEXT", "IF", "IFERROR", "IFNA", "IFS", "SWITCH")
_pat("a", "TYPE", "COUNTBLANK", "HSTACK", "VSTACK", "MDETERM", "MINVERSE", "TRANSPOSE",
     "SUMPRODUCT", "SORTBY", "MAP")
_pat("as", "ARRAYTOTEXT", "COUNTIF", "CHOOSECOLS", "CHOOSEROWS", "DROP", "EXPAND", "INDEX",
     "IRR", "LARGE", "SMALL", "MIRR", "PERCENTILE", "PERCENTILE.EXC", "PERCENTILE.INC",
     "QUARTILE", "QUARTILE.EXC", "QUARTILE.INC", "PERCENTRANK", "PERCENTRANK.EXC",
     "PERCENTRANK.INC", "SORT", "TAKE", "TOCOL", "TOROW", "TRIMMEAN", "TRIMRANGE", "UNIQUE",
     "WRAPCOLS", "WRAPROWS", "Z.TEST", "ZTEST")
_pat("asa", "SUMIF", "AVERAGEIF")
_pat("a|as", "SUMIFS", "AVERAGEIFS", "MAXIFS", "MINIFS")
_pat("|as", "COUNTIFS")
_pat("aa", "CHISQ.TEST", "CHITEST", "CORREL", "COVAR", "COVARIANCE.P", "COVARIANCE.S",
     "PEARSON", "RSQ", "SLOPE", "INTERCEPT", "STEYX", "SUMX2MY2", "SUMX2PY2", "SUMXMY2",
     "F.TEST", "FTEST", "FREQUENCY", "MMULT", "PERCENTOF")
_pat("al", "BYCOL", "BYROW")
_pat("aas", "FILTER", "LINEST", "LOGEST", "PROB", "T.TEST", "TTEST", "XIRR")
_pat("saa", "FORECAST", "FORECAST.LINEAR", "LOOKUP", "XNPV")
_pat("saas", "TEXTSPLIT", "XLOOKUP")
_pat("sa", "FVSCHEDULE")
_pat("sas", "HLOOKUP", "VLOOKUP", "MATCH", "XMATCH", "RANK", "RANK.AVG", "RANK.EQ")
_pat("aaas", "GROWTH", "TREND")
_pat("ssl", "MAKEARRAY")
_pat("sal", "REDUCE", "SCAN")
_pat("ssa", "NETWORKDAYS", "WORKDAY")
_pat("sssa", "NETWORKDAYS.INTL", "WORKDAY.INTL")
_pat("aalsssas", "GROUPBY")
_pat("aaalsssssas", "PIVOTBY")

# scalar parameters where formulas reads EMPTY (a blank cell or an omitted argument) as
# true; Excel reads a blank as FALSE/0: VLOOKUP(x, t, 2, ) is an exact match
_BLANK_AS: dict[tuple[str, int], object] = {("VLOOKUP", 3): False, ("HLOOKUP", 3): False}

_KIND = {"s": R.SCALAR, "e": R.ANY, "a": R.ARRAY, "r": R.RAW, "l": R.RAW}
_MAX_ARGS = 255


def _kinds(pattern: str) -> tuple[str, ...]:
    if "|" in pattern:
        head, rep = pattern.split("|", 1)
        letters = list(head)
        while len(letters) < _MAX_ARGS:
            letters.extend(rep)
        letters = letters[:_MAX_ARGS]
    else:
        letters = list(pattern)
    return tuple(_KIND[ch] for ch in letters)


# ---------------------------------------------------------------------------------------
# resolving names in formulas' table
# ---------------------------------------------------------------------------------------

def _canonical(name: str) -> str:
    n = name.strip().upper()
    changed = True
    while changed:
        changed = False
        for p in _PREFIXES:
            if n.startswith(p):
                n = n[len(p):]
                changed = True
    return n


_impls: dict[str, tuple] = {}      # canonical name -> (callable, extra leading args)


def _formulas_table():
    try:
        import formulas
        return formulas.get_functions()
    except Exception:  # formulas missing or broken: nothing to adapt
        return {}


def _resolve(canon: str):
    """formulas' implementation of a canonical name: (function, extra args) or None."""
    hit = _impls.get(canon)
    if hit is not None:
        return hit
    table = _formulas_table()
    entry = None
    # never index the table for an absent name: it is a defaultdict that would insert it
    for key in (canon, "_XLFN." + canon, "_XLFN._XLWS." + canon, "__XLUDF." + canon):
        if key in table:
            entry = table[key]
            break
    if entry is None:
        return None
    extra: tuple = ()
    if isinstance(entry, dict):
        fn = entry.get("function")
        ex = entry.get("extra_inputs") or {}
        vals = []
        for k, v in ex.items():
            if str(k) != "Run":      # only the COMPILING flag has a usable run-time value
                return None
            vals.append(False)
        extra = tuple(vals)
    else:
        fn = entry
    if not callable(fn):
        return None
    from formulas.functions import not_implemented
    if fn is not_implemented:
        return None
    hit = (fn, extra)
    _impls[canon] = hit
    return hit


# ---------------------------------------------------------------------------------------
# value conversion
# ---------------------------------------------------------------------------------------

_ext = None


def _externals():
    """(numpy, schedula, XlError, formulas' error table, Lambda class), imported once."""
    global _ext
    if _ext is None:
        import numpy as np
        import schedula as sh
        from formulas.tokens.operand import Error, XlError

        from ..evaluator.lambdas import Lambda
        _ext = (np, sh, XlError, Error.errors, Lambda)
    return _ext


def _err_out(e: XLError):
    _, _, XlError, errors, _ = _externals()
    got = errors.get(e.code)
    return got if got is not None else XlError(e.code)


def _scalar_in(v, cx, holder):
    np, sh, _, _, Lambda = _externals()
    if v is None or v is R.OMITTED:
        return sh.EMPTY
    if isinstance(v, (bool, str, float)):
        return v
    if isinstance(v, int):
        return float(v)
    if isinstance(v, XLError):
        return _err_out(v)
    if isinstance(v, Lambda):
        return _lambda_in(v, cx, holder)
    return _err_out(V.VALUE)


def _array_in(a: Array, cx, holder):
    np, _, _, _, Lambda = _externals()
    if a.nrows == 1 and a.ncols == 1 and isinstance(a.rows[0][0], Lambda):
        return _lambda_in(a.rows[0][0], cx, holder)
    if not a.rows or not a.rows[0]:
        return np.empty((0, 0), dtype=object)
    out = np.empty((a.nrows, a.ncols), dtype=object)
    for r, row in enumerate(a.rows):
        for c, v in enumerate(row):
            out[r, c] = _scalar_in(v, cx, holder)
    return out


def _reflist_values(ev, ref: RefList) -> Array:
    """The cells of several areas as one row (aggregate arguments only)."""
    row: list = []
    for area in ref.areas:
        for r in ev.ref_array(area).rows:
            row.extend(r)
    return Array([row]) if row else Array([[None]])


def _arg_in(v, kind: str, cx, holder):
    if isinstance(v, Range):
        v = cx.ev.ref_array(v)
    elif isinstance(v, RefList):
        v = cx.ev.ref_array(v.areas[0]) if len(v.areas) == 1 else _reflist_values(cx.ev, v)
    if isinstance(v, Array):
        return _array_in(v, cx, holder)
    return _scalar_in(v, cx, holder)


def _scalar_out(v):
    np, sh, XlError, _, _ = _externals()
    if isinstance(v, XlError):
        return V.error(str(v))
    if v is sh.EMPTY or v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, np.str_):
        # an error numpy turned into text while building a string/mixed array
        s = str(v)
        return V.ERRORS.get(s, s)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        x = float(v)
        return x if math.isfinite(x) else V.NUM
    if isinstance(v, XLError):
        return v
    if isinstance(v, np.ndarray):     # nested array: its first element
        return _scalar_out(v.ravel()[0]) if v.size else V.CALC
    if isinstance(v, (list, tuple)):
        return _scalar_out(v[0]) if v else V.CALC
    return V.VALUE


def _value_out(res):
    """A formulas result as our value: scalar, or Array for a multi-cell result."""
    np, _, _, _, _ = _externals()
    value = getattr(res, "value", None)
    if value is not None and type(res).__name__ == "Ranges":
        res = value
    if isinstance(res, (list, tuple)):
        res = np.asarray(res, dtype=object) if res else np.empty((0, 0), dtype=object)
    if isinstance(res, np.ndarray):
        if res.ndim == 0:
            item = res.item()
            if isinstance(item, (np.ndarray, list, tuple)):
                return _value_out(item)
            return _scalar_out(item)
        if res.size == 0:
            return V.CALC
        if res.ndim == 1:
            res = res.reshape(1, -1)
        elif res.ndim > 2:
            return V.VALUE
        if res.shape == (1, 1):
            item = res[0, 0]
            if isinstance(item, np.ndarray):
                return _value_out(item)
            return _scalar_out(item)
        # index elementwise (not tolist) to keep numpy string scalars recognisable
        return Array([[_scalar_out(res[r, c]) for c in range(res.shape[1])]
                      for r in range(res.shape[0])])
    return _scalar_out(res)


def _lambda_in(lam, cx, holder):
    """Our lambda value as a Python callable formulas can apply. An exception our own
    evaluation raises (NeedCell: a cell still to compute) is kept in `holder` and re-raised
    once formulas returns, since formulas would turn it into #VALUE!."""
    from ..evaluator.lambdas import call_lambda

    def fn(*args):
        try:
            ours = [_value_out(a) if not isinstance(a, (list, tuple)) else _value_out(list(a))
                    for a in args]
            res = call_lambda(lam, ours, cx)
            if isinstance(res, (Range, RefList)):
                res = cx.ev.ref_array(res)
            if isinstance(res, Array):
                if res.nrows == 1 and res.ncols == 1:
                    res = res.rows[0][0]
                else:
                    return _array_in(res, cx, holder)
            return _scalar_in(res, cx, holder)
        except XLError as e:
            return _err_out(e)
        except Exception as e:
            holder.append(e)
            raise

    return fn


# ---------------------------------------------------------------------------------------
# the adapted function
# ---------------------------------------------------------------------------------------

class _Adapted:
    """The body of an adapted spec: only the name is stored (picklable); formulas'
    implementation is resolved on call."""

    __slots__ = ("name", "kinds")

    def __init__(self, name: str, kinds: tuple[str, ...]):
        self.name = name
        self.kinds = kinds

    def __getstate__(self):
        return (self.name, self.kinds)

    def __setstate__(self, state):
        self.name, self.kinds = state

    def __repr__(self):
        return f"<formulas {self.name}>"

    def __call__(self, cx, *args):
        name = self.name
        if name in ("NOW", "TODAY"):
            now = getattr(getattr(cx, "ev", None), "now", None)
            if now is not None:
                return float(now) if name == "NOW" else float(math.floor(now))
        hit = _resolve(name)
        if hit is None:
            return V.NAME
        impl, extra = hit
        holder: list = []
        kinds = self.kinds
        if any(a is None or a is R.OMITTED for a in args):
            args = tuple(_BLANK_AS.get((name, i), a) if a is None or a is R.OMITTED else a
                         for i, a in enumerate(args))
        # conversion reads cells: an engine NeedCell raised here must propagate
        conv = [_arg_in(a, kinds[i] if i < len(kinds) else kinds[-1] if kinds else R.RAW,
                        cx, holder)
                for i, a in enumerate(args)]
        np = _externals()[0]
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                res = impl(*extra, *conv)
        except Exception:
            if holder:
                raise holder[0]
            return V.VALUE
        if holder:
            raise holder[0]
        try:
            return _value_out(res)
        except Exception:
            return V.VALUE


_specs: dict[str, FunctionSpec | None] = {}

# Excel functions xleval has no native implementation of that formulas lacks too, at the
# version named: asked for one of these (CUBEVALUE, WEBSERVICE...), the adapter answers
# None without importing formulas (~0.8 s) when that version is installed, and asks
# formulas itself under any other. tests/test_adapter.py checks both against the
# installed package.
ABSENT_FROM_FORMULAS = ("1.3.4", frozenset({
    "CALL", "CUBEKPIMEMBER", "CUBEMEMBER", "CUBEMEMBERPROPERTY", "CUBERANKEDMEMBER",
    "CUBESET", "CUBESETCOUNT", "CUBEVALUE", "DETECTLANGUAGE", "EUROCONVERT", "IMAGE",
    "REGISTER.ID", "RTD", "STOCKHISTORY", "TRANSLATE", "WEBSERVICE"}))


def _known_absent(canon: str) -> bool:
    version, names = ABSENT_FROM_FORMULAS
    if canon not in names:
        return False
    from importlib import metadata
    try:
        return metadata.version("formulas") == version
    except metadata.PackageNotFoundError:
        return True


def _module_ok(canon: str) -> bool:
    mod = _NEEDS_MODULE.get(canon)
    if mod is None:
        return True
    import importlib.util
    try:
        return importlib.util.find_spec(mod) is not None
    except (ImportError, ValueError):
        return False


def formulas_function(name: str) -> FunctionSpec | None:
    """A FunctionSpec serving Excel function `name` from the formulas package, or None when
    formulas has no (adaptable) implementation of it."""
    canon = _canonical(name)
    if canon in _specs:
        return _specs[canon]
    spec = None
    # formulas implements Excel's own functions: a name Excel does not have (a VBA or
    # add-in function, a typo) is none of its, and asking would import formulas, ~0.8 s
    # a run for a workbook with one user-defined function
    if (canon in EXCEL_FUNCTIONS and canon not in UNADAPTABLE and not _known_absent(canon)
            and _module_ok(canon) and _resolve(canon) is not None):
        kinds = _kinds(_PATTERNS.get(canon, "s"))
        spec = FunctionSpec(
            name=canon, fn=_Adapted(canon, kinds), kinds=kinds, min_args=0,
            max_args=_MAX_ARGS, ctx=True, volatile=canon in VOLATILE_FUNCTIONS,
            category=EXCEL_FUNCTIONS.get(canon, ""), source="formulas")
    _specs[canon] = spec
    return spec


def adaptable_names() -> list[str]:
    """Every canonical name formulas_function can serve."""
    names = {_canonical(k) for k in _formulas_table()}
    return sorted(n for n in names if formulas_function(n) is not None)
