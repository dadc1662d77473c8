"""Engineering functions: base conversion, bit operations, DELTA/GESTEP, ERF, CONVERT,
complex numbers (COMPLEX and IM*) and the Bessel functions.

Like the other Analysis ToolPak functions, these reject TRUE/FALSE arguments with #VALUE!.
"""
from __future__ import annotations

import math
import re

from .. import values as V
from ..evaluator.refs import Range, RefList
from ..values import Array, XLError
from .datetime import atp
from .registry import ANY, SCALAR, TEXT, VALUES, xl

_MISSING = object()     # an argument not given at all (a blank cell arrives as None)


def _num(v) -> float:
    """A numeric argument: numbers, numeric text, blank as 0; TRUE/FALSE -> #VALUE!."""
    if isinstance(v, float):
        return v
    if isinstance(v, bool):
        raise V.VALUE
    if isinstance(v, int):
        return float(v)
    if v is None:
        return 0.0
    if isinstance(v, str):
        n = V.text_to_number(v)
        if n is None:
            raise V.VALUE
        return n
    if isinstance(v, XLError):
        raise v
    raise V.VALUE


def _trunc(x: float) -> int:
    if not math.isfinite(x):
        raise V.NUM
    return int(x) if x >= 0 else -int(-x)


# ---------------------------------------------------------------------------------------
# base conversion
# ---------------------------------------------------------------------------------------

_DIGITS = "0123456789ABCDEF"
_BASE_LIMIT = {2: 512, 8: 2 ** 29, 16: 2 ** 39}          # values are in [-limit, limit)
_BASE_MOD = {2: 2 ** 10, 8: 8 ** 10, 16: 16 ** 10}
_VALID = {2: set("01"), 8: set("01234567"), 16: set("0123456789ABCDEF")}


def _places(places):
    """None when no places were given, else the validated digit count."""
    if places is _MISSING:
        return None
    p = _trunc(_num(places))
    if p < 1 or p > 10:
        raise V.NUM
    return p


def _to_base(n: int, base: int, places) -> str:
    limit = _BASE_LIMIT[base]
    if n < -limit or n >= limit:
        raise V.NUM
    if n < 0:
        n += _BASE_MOD[base]
        places = None           # negative numbers are always ten digits
    s = ""
    while True:
        n, r = divmod(n, base)
        s = _DIGITS[r] + s
        if n == 0:
            break
    if places is not None:
        if len(s) > places:
            raise V.NUM
        s = s.rjust(places, "0")
    return s


def _from_base(v, base: int) -> int:
    """The value of a BIN/OCT/HEX argument (ten-digit two's complement)."""
    if isinstance(v, bool):
        raise V.VALUE
    if isinstance(v, XLError):
        raise v
    if v is None:
        return 0
    if isinstance(v, float):
        if v < 0 or v != int(v):
            raise V.NUM
        s = V.num_to_text(v)
    else:
        s = str(v)
    s = s.upper()
    if len(s) > 10:
        raise V.NUM
    if not s:
        return 0
    if any(ch not in _VALID[base] for ch in s):
        raise V.NUM
    n = int(s, base)
    mod = _BASE_MOD[base]
    if len(s) == 10 and n >= mod // 2:
        n -= mod
    return n


def _dec_number(v) -> int:
    if isinstance(v, str) and v == "":
        raise V.VALUE
    return _trunc(_num(v))


def _make_dec2(base):
    def fn(number, places=_MISSING):
        p = _places(places)
        return _to_base(_dec_number(number), base, p)
    return fn


def _make_x2dec(base):
    def fn(number):
        return float(_from_base(number, base))
    return fn


def _make_x2y(src, dst):
    def fn(number, places=_MISSING):
        p = _places(places)
        return _to_base(_from_base(number, src), dst, p)
    return fn


for _name, _base in (("BIN", 2), ("OCT", 8), ("HEX", 16)):
    atp(f"DEC2{_name}", ANY, ANY)(_make_dec2(_base))
    atp(f"{_name}2DEC", ANY)(_make_x2dec(_base))
    for _name2, _base2 in (("BIN", 2), ("OCT", 8), ("HEX", 16)):
        if _base2 != _base:
            atp(f"{_name}2{_name2}", ANY, ANY)(_make_x2y(_base, _base2))


# ---------------------------------------------------------------------------------------
# bit operations
# ---------------------------------------------------------------------------------------

_BIT_LIMIT = 2 ** 48


def _bit_arg(v) -> int:
    x = _num(v)
    if x < 0 or x >= _BIT_LIMIT or x != math.floor(x):
        raise V.NUM
    return int(x)


@xl("BITAND", SCALAR, SCALAR)
def BITAND(a, b):
    return float(_bit_arg(a) & _bit_arg(b))


@xl("BITOR", SCALAR, SCALAR)
def BITOR(a, b):
    return float(_bit_arg(a) | _bit_arg(b))


@xl("BITXOR", SCALAR, SCALAR)
def BITXOR(a, b):
    return float(_bit_arg(a) ^ _bit_arg(b))


def _shift(number, amount, left: bool):
    n = _bit_arg(number)
    k = _trunc(_num(amount))
    if abs(k) > 53:
        raise V.NUM
    if not left:
        k = -k
    r = n << k if k >= 0 else n >> -k
    if r >= _BIT_LIMIT:
        raise V.NUM
    return float(r)


@xl("BITLSHIFT", SCALAR, SCALAR)
def BITLSHIFT(number, shift):
    return _shift(number, shift, True)


@xl("BITRSHIFT", SCALAR, SCALAR)
def BITRSHIFT(number, shift):
    return _shift(number, shift, False)


# ---------------------------------------------------------------------------------------
# DELTA, GESTEP, ERF
# ---------------------------------------------------------------------------------------

@atp("DELTA", SCALAR, SCALAR)
def DELTA(number1, number2=0.0):
    return 1.0 if _num(number1) == _num(number2) else 0.0


@atp("GESTEP", SCALAR, SCALAR)
def GESTEP(number, step=0.0):
    n = _num(number)
    return 1.0 if n >= _num(step) else 0.0


@atp("ERF", SCALAR, SCALAR)
def ERF(lower, upper=_MISSING):
    lo = _num(lower)
    if upper is _MISSING:
        return math.erf(lo)
    return math.erf(_num(upper)) - math.erf(lo)


@atp("ERF.PRECISE", SCALAR)
def ERF_PRECISE(x):
    return math.erf(_num(x))


@atp("ERFC", SCALAR)
def ERFC(x):
    return math.erfc(_num(x))


@atp("ERFC.PRECISE", SCALAR)
def ERFC_PRECISE(x):
    return math.erfc(_num(x))


# ---------------------------------------------------------------------------------------
# CONVERT
# ---------------------------------------------------------------------------------------

# unit -> (category, factor to the category's base unit, prefixable, power of the length
# a metric prefix applies to: 2 for m2, 3 for m3)
_UNITS: dict[str, tuple[str, float, bool, int]] = {}


def _units(category: str, entries):
    for names, factor, prefix, *power in entries:
        for n in names.split():
            _UNITS[n] = (category, float(factor), prefix, power[0] if power else 1)


_LBF = 0.45359237 * 9.80665                 # pound force, N
_FT = 0.3048
_IN = 0.0254
_MI = 1609.344
_NMI = 1852.0
_LY = 9460730472580800.0
_PICA = _IN / 72
_HP = 550 * _FT * _LBF                      # mechanical horsepower, W
_SURVEY_FT = 1200 / 3937
_GAL = 231 * _IN ** 3                       # US gallon, m3

_units("mass", [                            # base: gram
    ("g", 1, True),
    ("sg", _LBF / _FT * 1000, False),
    ("lbm", 453.59237, False),
    ("u", 1.660538782e-24, True),
    ("ozm", 453.59237 / 16, False),
    ("grain", 0.06479891, False),
    ("cwt shweight", 45359.237, False),
    ("uk_cwt lcwt hweight", 50802.34544, False),
    ("stone", 6350.29318, False),
    ("ton", 907184.74, False),
    ("uk_ton LTON brton", 1016046.9088, False),
])
_units("distance", [                        # base: metre
    ("m", 1, True),
    ("mi", _MI, False),
    ("Nmi", _NMI, False),
    ("in", _IN, False),
    ("ft", _FT, False),
    ("yd", 0.9144, False),
    ("ang", 1e-10, True),
    ("ell", 1.143, False),
    ("ly", _LY, True),
    ("parsec pc", 3.08567758128155e16, True),
    ("Picapt Pica", _PICA, False),
    ("pica", _IN / 6, False),
    ("survey_mi", 5280 * _SURVEY_FT, False),
])
_units("time", [                            # base: second
    ("yr", 365.25 * 86400, False),
    ("day d", 86400, False),
    ("hr", 3600, False),
    ("mn min", 60, False),
    ("sec s", 1, True),
])
_units("pressure", [                        # base: pascal
    ("Pa p", 1, True),
    ("atm at", 101325, True),
    ("mmHg", 133.322, True),
    ("psi", _LBF / _IN ** 2, False),
    ("Torr", 101325 / 760, False),
])
_units("force", [                           # base: newton
    ("N", 1, True),
    ("dyn dy", 1e-5, True),
    ("lbf", _LBF, False),
    ("pond", 9.80665e-3, True),
])
_units("energy", [                          # base: joule
    ("J", 1, True),
    ("e", 1e-7, True),
    ("c", 4.184, True),
    ("cal", 4.1868, True),
    ("eV ev", 1.602176487e-19, True),
    ("HPh hh", _HP * 3600, False),
    ("Wh wh", 3600, True),
    ("flb", _FT * _LBF, False),
    ("BTU btu", 1055.05585262, False),
])
_units("power", [                           # base: watt
    ("HP h", _HP, False),
    ("PS", 735.49875, False),
    ("W w", 1, True),
])
_units("magnetism", [                       # base: tesla
    ("T", 1, True),
    ("ga", 1e-4, True),
])
_units("temperature", [                     # factors unused: converted by formula
    ("C cel", 1, False),
    ("F fah", 1, False),
    ("K kel", 1, True),
    ("Rank", 1, False),
    ("Reau", 1, False),
])
_units("volume", [                          # base: cubic metre
    ("tsp", _GAL / 768, False),
    ("tspm", 5e-6, False),
    ("tbs", _GAL / 256, False),
    ("oz", _GAL / 128, False),
    ("cup", _GAL / 16, False),
    ("pt us_pt", _GAL / 8, False),
    ("uk_pt", 4.54609e-3 / 8, True),           # Excel takes prefixes here (and on mph)
    ("qt", _GAL / 4, False),
    ("uk_qt", 4.54609e-3 / 4, False),
    ("gal", _GAL, False),
    ("uk_gal", 4.54609e-3, False),
    ("l L lt", 1e-3, True),
    ("ang3 ang^3", 1e-30, True, 3),
    ("barrel", 42 * _GAL, False),
    ("bushel", 2150.42 * _IN ** 3, False),
    ("ft3 ft^3", _FT ** 3, False),
    ("in3 in^3", _IN ** 3, False),
    ("ly3 ly^3", _LY ** 3, False),
    ("m3 m^3", 1, True, 3),
    ("mi3 mi^3", _MI ** 3, False),
    ("yd3 yd^3", 0.9144 ** 3, False),
    ("Nmi3 Nmi^3", _NMI ** 3, False),
    ("Picapt3 Picapt^3 Pica3 Pica^3", _PICA ** 3, False),
    ("GRT regton", 100 * _FT ** 3, False),
    ("MTON", 40 * _FT ** 3, False),
])
_units("area", [                            # base: square metre
    ("uk_acre", 4840 * 0.9144 ** 2, False),
    ("us_acre", 43560 * _SURVEY_FT ** 2, False),
    ("ang2 ang^2", 1e-20, True, 2),
    ("ar", 100, True),
    ("ft2 ft^2", _FT ** 2, False),
    ("ha", 10000, False),
    ("in2 in^2", _IN ** 2, False),
    ("ly2 ly^2", _LY ** 2, False),
    ("m2 m^2", 1, True, 2),
    ("Morgen", 2500, False),
    ("mi2 mi^2", _MI ** 2, False),
    ("Nmi2 Nmi^2", _NMI ** 2, False),
    ("Picapt2 Pica2 Pica^2 Picapt^2", _PICA ** 2, False),
    ("yd2 yd^2", 0.9144 ** 2, False),
])
_units("information", [                     # base: bit
    ("bit", 1, True),
    ("byte", 8, True),
])
_units("speed", [                           # base: metre per second
    ("admkn", 6080 * _FT / 3600, False),
    ("kn", _NMI / 3600, False),
    ("m/h m/hr", 1 / 3600, True),
    ("m/s m/sec", 1, True),
    ("mph", _MI / 3600, True),
])

_PREFIXES = {"Y": 1e24, "Z": 1e21, "E": 1e18, "P": 1e15, "T": 1e12, "G": 1e9, "M": 1e6,
             "k": 1e3, "h": 1e2, "da": 1e1, "e": 1e1, "d": 1e-1, "c": 1e-2, "m": 1e-3,
             "u": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15, "a": 1e-18, "z": 1e-21,
             "y": 1e-24}
_BINARY_PREFIXES = {"Yi": 2.0 ** 80, "Zi": 2.0 ** 70, "Ei": 2.0 ** 60, "Pi": 2.0 ** 50,
                    "Ti": 2.0 ** 40, "Gi": 2.0 ** 30, "Mi": 2.0 ** 20, "ki": 2.0 ** 10}


def _unit_candidates(name: str) -> list[tuple[str, float, str]]:
    """Every reading of a unit name as (category, factor, base unit name): the unit itself
    first, then prefixed readings ("pc" is a parsec, and also a pico-calorie)."""
    out = []
    u = _UNITS.get(name)
    if u is not None:
        out.append((u[0], u[1], name))
    for table in (_PREFIXES, _BINARY_PREFIXES):
        for plen in (2, 1):
            pre, rest = name[:plen], name[plen:]
            mult = table.get(pre)
            if mult is None or not rest:
                continue
            u = _UNITS.get(rest)
            if u is None or not u[2]:
                continue
            if table is _BINARY_PREFIXES and u[0] != "information":
                continue
            out.append((u[0], u[1] * mult ** u[3], rest))
    return out


def _units_pair(from_unit: str, to_unit: str):
    """The first readings of both units that share a category, or None."""
    for a in _unit_candidates(from_unit):
        for b in _unit_candidates(to_unit):
            if a[0] == b[0]:
                return a, b
    return None


def _to_kelvin(x: float, unit: str) -> float:
    if unit in ("C", "cel"):
        return x + 273.15
    if unit in ("F", "fah"):
        return (x - 32) / 1.8 + 273.15
    if unit == "Rank":
        return x / 1.8
    if unit == "Reau":
        return x * 1.25 + 273.15
    return x


def _from_kelvin(k: float, unit: str) -> float:
    if unit in ("C", "cel"):
        return k - 273.15
    if unit in ("F", "fah"):
        return (k - 273.15) * 1.8 + 32
    if unit == "Rank":
        return k * 1.8
    if unit == "Reau":
        return (k - 273.15) * 0.8
    return k


_TEMP_DIRECT = {
    (("C", "cel"), ("F", "fah")): lambda x: x * 1.8 + 32,
    (("F", "fah"), ("C", "cel")): lambda x: (x - 32) / 1.8,
}


@atp("CONVERT", SCALAR, TEXT, TEXT)
def CONVERT(number, from_unit, to_unit):
    x = _num(number)
    pair = _units_pair(from_unit, to_unit)
    if pair is None:
        return V.NA
    a, b = pair
    if a[0] == "temperature":
        for (fa, fb), fn in _TEMP_DIRECT.items():
            if a[2] in fa and b[2] in fb:
                return fn(x)
        k = _to_kelvin(x, a[2]) * a[1]
        return _from_kelvin(k / b[1], b[2])
    if a[1] == b[1]:
        return x
    return x * a[1] / b[1]


# ---------------------------------------------------------------------------------------
# complex numbers
# ---------------------------------------------------------------------------------------

_NUM_RE = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_COMPLEX_RE = re.compile(
    rf"^(?:(?P<re>[+-]?{_NUM_RE})(?P<im>[+-](?:{_NUM_RE})?)?(?P<s1>[ij])?"
    rf"|(?P<im2>[+-]?(?:{_NUM_RE})?)(?P<s2>[ij]))$")


def _parse_complex(v):
    """(complex, suffix or None) of an IM* argument."""
    if isinstance(v, bool):
        raise V.VALUE
    if isinstance(v, XLError):
        raise v
    if v is None:
        return 0j, None
    if isinstance(v, float):
        return complex(v, 0.0), None
    s = str(v)
    if s == "":
        return 0j, None
    m = _COMPLEX_RE.match(s)
    if not m:
        raise V.NUM
    if m.group("s2"):
        im = m.group("im2")
        if im in ("", "+"):
            im = "1"
        elif im == "-":
            im = "-1"
        return complex(0.0, float(im)), m.group("s2")
    re_part = float(m.group("re"))
    im = m.group("im")
    suffix = m.group("s1")
    if im is None:
        if suffix:                  # "5i": the number is the imaginary part
            return complex(0.0, re_part), suffix
        return complex(re_part, 0.0), None
    if not suffix:
        raise V.NUM
    if im in ("+", "-"):
        im += "1"
    return complex(re_part, float(im)), suffix


def _fmt_part(x: float) -> str:
    """A real number in complex text: 15 significant digits, scientific below 1e-5."""
    if x == 0:
        return "0"
    s = f"{x:.15g}"
    if "e" in s:
        mant, exp = s.split("e")
        e = int(exp)
        if -5 <= e < 15:
            s = f"{float(s):.{max(0, 14 - e)}f}"
            if "." in s:
                s = s.rstrip("0").rstrip(".")
            return s
        if "." in mant:
            mant = mant.rstrip("0").rstrip(".")
        return f"{mant}E{'-' if e < 0 else '+'}{abs(e):02d}"
    return s


def _fmt_complex(z: complex, suffix: str | None) -> str:
    sfx = suffix or "i"
    re_, im = V.round15(z.real), V.round15(z.imag)
    if not (math.isfinite(re_) and math.isfinite(im)):
        raise V.NUM
    if im == 0:
        return _fmt_part(re_)
    if im == 1:
        ims = sfx
    elif im == -1:
        ims = "-" + sfx
    else:
        ims = _fmt_part(im) + sfx
    if re_ == 0:
        return ims
    if not ims.startswith("-"):
        ims = "+" + ims
    return _fmt_part(re_) + ims


def _one(fn):
    """An IM* function of one complex number returning a complex number."""
    def wrapper(inumber):
        z, s = _parse_complex(inumber)
        return _fmt_complex(fn(z), s)
    return wrapper


@atp("COMPLEX", SCALAR, SCALAR, SCALAR)
def COMPLEX(real_num, i_num, suffix="i"):
    re_ = _num(real_num)
    im = _num(i_num)
    if suffix is None or suffix == "":
        suffix = "i"
    if isinstance(suffix, bool) or not isinstance(suffix, str):
        raise V.VALUE
    if suffix not in ("i", "j"):
        raise V.VALUE
    return _fmt_complex(complex(re_, im), suffix)


@atp("IMREAL", SCALAR)
def IMREAL(inumber):
    return _parse_complex(inumber)[0].real


@atp("IMAGINARY", SCALAR)
def IMAGINARY(inumber):
    return _parse_complex(inumber)[0].imag


@atp("IMABS", SCALAR)
def IMABS(inumber):
    z = _parse_complex(inumber)[0]
    return math.hypot(z.real, z.imag)


@atp("IMARGUMENT", SCALAR)
def IMARGUMENT(inumber):
    z = _parse_complex(inumber)[0]
    if z == 0:
        return V.DIV0
    return math.atan2(z.imag, z.real)


@atp("IMCONJUGATE", SCALAR)
def IMCONJUGATE(inumber):
    z, s = _parse_complex(inumber)
    return _fmt_complex(z.conjugate(), s)


def _exp(z: complex) -> complex:
    r = math.exp(z.real)
    return complex(r * math.cos(z.imag), r * math.sin(z.imag))


def _ln(z: complex) -> complex:
    if z == 0:
        raise V.NUM
    return complex(math.log(math.hypot(z.real, z.imag)), math.atan2(z.imag, z.real))


def _sin(z: complex) -> complex:
    a, b = z.real, z.imag
    return complex(math.sin(a) * math.cosh(b), math.cos(a) * math.sinh(b))


def _cos(z: complex) -> complex:
    a, b = z.real, z.imag
    return complex(math.cos(a) * math.cosh(b), -math.sin(a) * math.sinh(b))


def _sinh(z: complex) -> complex:
    a, b = z.real, z.imag
    return complex(math.sinh(a) * math.cos(b), math.cosh(a) * math.sin(b))


def _cosh(z: complex) -> complex:
    a, b = z.real, z.imag
    return complex(math.cosh(a) * math.cos(b), math.sinh(a) * math.sin(b))


def _tan(z: complex) -> complex:
    a, b = 2 * z.real, 2 * z.imag
    d = math.cos(a) + math.cosh(b)
    if d == 0:
        raise V.NUM
    return complex(math.sin(a) / d, math.sinh(b) / d)


def _cot(z: complex) -> complex:
    a, b = 2 * z.real, 2 * z.imag
    d = math.cosh(b) - math.cos(a)
    if d == 0:
        raise V.NUM
    return complex(math.sin(a) / d, -math.sinh(b) / d)


def _reciprocal(f1, f2, f3, f4, sign):
    """1 / (f1(a)f2(b) + i f3(a)f4(b)) written out, as Excel evaluates SEC, CSC, SECH, CSCH."""
    def fn(z: complex) -> complex:
        a, b = z.real, z.imag
        re_ = f1(a) * f2(b)
        im = f3(a) * f4(b)
        d = f1(a) ** 2 * f2(b) ** 2 + f3(a) ** 2 * f4(b) ** 2
        if d == 0:
            raise V.NUM
        return complex(re_ / d, -sign * im / d)
    return fn


def _div(a: complex, b: complex) -> complex:
    if b == 0:
        raise V.NUM
    return a / b                # scaled (Smith's) division, as Excel's IMDIV rounds


def _sqrt(z: complex) -> complex:
    if z == 0:
        return 0j
    r = math.sqrt(math.hypot(z.real, z.imag))
    t = math.atan2(z.imag, z.real) / 2
    return complex(r * math.cos(t), r * math.sin(t))


_LN10 = math.log(10)
_LN2 = math.log(2)

for _n, _f in (
        ("IMEXP", _exp),
        ("IMLN", _ln),
        ("IMLOG10", lambda z: _ln(z) / _LN10),
        ("IMLOG2", lambda z: _ln(z) / _LN2),
        ("IMSQRT", _sqrt),
        ("IMSIN", _sin),
        ("IMCOS", _cos),
        ("IMTAN", _tan),
        ("IMCOT", _cot),
        ("IMSEC", _reciprocal(math.cos, math.cosh, math.sin, math.sinh, -1)),
        ("IMCSC", _reciprocal(math.sin, math.cosh, math.cos, math.sinh, 1)),
        ("IMSINH", _sinh),
        ("IMCOSH", _cosh),
        ("IMSECH", _reciprocal(math.cosh, math.cos, math.sinh, math.sin, 1)),
        ("IMCSCH", _reciprocal(math.sinh, math.cos, math.cosh, math.sin, 1))):
    atp(_n, SCALAR)(_one(_f))


@atp("IMPOWER", SCALAR, SCALAR)
def IMPOWER(inumber, number):
    z, s = _parse_complex(inumber)
    n = _num(number)
    if z == 0:
        if n <= 0:
            return V.NUM
        return _fmt_complex(0j, s)
    r = math.hypot(z.real, z.imag) ** n
    t = math.atan2(z.imag, z.real) * n
    return _fmt_complex(complex(r * math.cos(t), r * math.sin(t)), s)


def _suffix(a, b, err):
    if a and b and a != b:
        raise err
    return a or b


@atp("IMDIV", SCALAR, SCALAR)
def IMDIV(inumber1, inumber2):
    a, s1 = _parse_complex(inumber1)
    b, s2 = _parse_complex(inumber2)
    s = _suffix(s1, s2, V.NUM)
    return _fmt_complex(_div(a, b), s)


@atp("IMSUB", SCALAR, SCALAR)
def IMSUB(inumber1, inumber2):
    a, s1 = _parse_complex(inumber1)
    b, s2 = _parse_complex(inumber2)
    s = _suffix(s1, s2, V.NUM)
    return _fmt_complex(a - b, s)


def _collect_complex(cx, args):
    """Every complex number of IMSUM/IMPRODUCT's arguments (ranges and arrays expand,
    blank cells are skipped)."""
    out = []
    for a in args:
        if isinstance(a, (Range, RefList)):
            a = cx.ev.ref_array(a)
        if isinstance(a, Array):
            for v in a.flat():
                out.append(_parse_complex(v))          # a blank cell is 0
        else:
            out.append(_parse_complex(a))
    return out


def _fold(cx, args, op, start):
    items = _collect_complex(cx, args)
    s = None
    acc = start
    for z, sfx in items:
        s = _suffix(s, sfx, V.VALUE)
        acc = op(acc, z)
    return _fmt_complex(acc, s)


@xl("IMSUM", VALUES, ctx=True)
def IMSUM(cx, args):
    return _fold(cx, args, lambda a, b: a + b, 0j)


@xl("IMPRODUCT", VALUES, ctx=True)
def IMPRODUCT(cx, args):
    return _fold(cx, args, lambda a, b: a * b, 1 + 0j)


# ---------------------------------------------------------------------------------------
# Bessel functions: the classic rational/polynomial approximations (Hart; Abramowitz &
# Stegun 9.4 and 9.8) with recurrences for higher orders, which reproduce Excel's values
# (Excel's are not exact to full double precision either).
# ---------------------------------------------------------------------------------------

def _poly(y: float, coeffs) -> float:
    r = 0.0
    for c in reversed(coeffs):
        r = r * y + c
    return r


_J0_P = (57568490574.0, -13362590354.0, 651619640.7, -11214424.18, 77392.33017,
         -184.9052456)
_J0_Q = (57568490411.0, 1029532985.0, 9494680.718, 59272.64853, 267.8532712, 1.0)
_J0_A = (1.0, -0.1098628627e-2, 0.2734510407e-4, -0.2073370639e-5, 0.2093887211e-6)
_J0_B = (-0.1562499995e-1, 0.1430488765e-3, -0.6911147651e-5, 0.7621095161e-6,
         -0.934935152e-7)
_J1_P = (72362614232.0, -7895059235.0, 242396853.1, -2972611.439, 15704.48260,
         -30.16036606)
_J1_Q = (144725228442.0, 2300535178.0, 18583304.74, 99447.43394, 376.9991397, 1.0)
_J1_A = (1.0, 0.183105e-2, -0.3516396496e-4, 0.2457520174e-5, -0.240337019e-6)
_J1_B = (0.04687499995, -0.2002690873e-3, 0.8449199096e-5, -0.88228987e-6,
         0.105787412e-6)
_Y0_P = (-2957821389.0, 7062834065.0, -512359803.6, 10879881.29, -86327.92757,
         228.4622733)
_Y0_Q = (40076544269.0, 745249964.8, 7189466.438, 47447.26470, 226.1030244, 1.0)
_Y1_P = (-0.4900604943e13, 0.1275274390e13, -0.5153438139e11, 0.7349264551e9,
         -0.4237922726e7, 0.8511937935e4)
_Y1_Q = (0.2499580570e14, 0.4244419664e12, 0.3733650367e10, 0.2245904002e8,
         0.1020426050e6, 0.3549632885e3, 1.0)
_TWO_OVER_PI = 0.636619772


def _asymptotic(ax, a, b, shift, use_sin):
    z = 8.0 / ax
    y = z * z
    xx = ax - shift
    p = _poly(y, a)
    q = _poly(y, b)
    f = math.sqrt(_TWO_OVER_PI / ax)
    if use_sin:
        return f * (math.sin(xx) * p + z * math.cos(xx) * q)
    return f * (math.cos(xx) * p - z * math.sin(xx) * q)


def _j0(x: float) -> float:
    ax = abs(x)
    if ax < 8.0:
        y = x * x
        return _poly(y, _J0_P) / _poly(y, _J0_Q)
    return _asymptotic(ax, _J0_A, _J0_B, 0.785398164, False)


def _j1(x: float) -> float:
    ax = abs(x)
    if ax < 8.0:
        y = x * x
        return x * _poly(y, _J1_P) / _poly(y, _J1_Q)
    r = _asymptotic(ax, _J1_A, _J1_B, 2.356194491, False)
    return -r if x < 0 else r


def _y0(x: float) -> float:
    if x < 8.0:
        y = x * x
        return _poly(y, _Y0_P) / _poly(y, _Y0_Q) + _TWO_OVER_PI * _j0(x) * math.log(x)
    return _asymptotic(x, _J0_A, _J0_B, 0.785398164, True)


def _y1(x: float) -> float:
    if x < 8.0:
        y = x * x
        return (x * _poly(y, _Y1_P) / _poly(y, _Y1_Q)
                + _TWO_OVER_PI * (_j1(x) * math.log(x) - 1.0 / x))
    return _asymptotic(x, _J1_A, _J1_B, 2.356194491, True)


_ACC = 40.0
_BIGNO = 1e10
_BIGNI = 1e-10


def _jn(n: int, x: float) -> float:
    if n == 0:
        return _j0(x)
    if n == 1:
        return _j1(x)
    ax = abs(x)
    if ax == 0.0:
        return 0.0
    tox = 2.0 / ax
    if ax > n:
        bjm, bj = _j0(ax), _j1(ax)
        for j in range(1, n):
            bjm, bj = bj, j * tox * bj - bjm
        ans = bj
    else:
        m = 2 * ((n + int(math.sqrt(_ACC * n))) // 2)
        jsum = False
        bjp = ans = total = 0.0
        bj = 1.0
        for j in range(m, 0, -1):
            bjm = j * tox * bj - bjp
            bjp, bj = bj, bjm
            if abs(bj) > _BIGNO:
                bj *= _BIGNI
                bjp *= _BIGNI
                ans *= _BIGNI
                total *= _BIGNI
            if jsum:
                total += bj
            jsum = not jsum
            if j == n:
                ans = bjp
        total = 2.0 * total - bj
        ans /= total
    return -ans if x < 0 and n % 2 else ans


def _yn(n: int, x: float) -> float:
    if n == 0:
        return _y0(x)
    if n == 1:
        return _y1(x)
    tox = 2.0 / x
    bym, by = _y0(x), _y1(x)
    for j in range(1, n):
        bym, by = by, j * tox * by - bym
    return by


_I0_S = (1.0, 3.5156229, 3.0899424, 1.2067492, 0.2659732, 0.360768e-1, 0.45813e-2)
_I0_L = (0.39894228, 0.1328592e-1, 0.225319e-2, -0.157565e-2, 0.916281e-2, -0.2057706e-1,
         0.2635537e-1, -0.1647633e-1, 0.392377e-2)
_I1_S = (0.5, 0.87890594, 0.51498869, 0.15084934, 0.2658733e-1, 0.301532e-2, 0.32411e-3)
_I1_L = (0.39894228, -0.3988024e-1, -0.362018e-2, 0.163801e-2, -0.1031555e-1, 0.2282967e-1,
         -0.2895312e-1, 0.1787654e-1, -0.420059e-2)
_K0_S = (-0.57721566, 0.42278420, 0.23069756, 0.3488590e-1, 0.262698e-2, 0.10750e-3,
         0.74e-5)
_K0_L = (1.25331414, -0.7832358e-1, 0.2189568e-1, -0.1062446e-1, 0.587872e-2, -0.251540e-2,
         0.53208e-3)
_K1_S = (1.0, 0.15443144, -0.67278579, -0.18156897, -0.1919402e-1, -0.110404e-2,
         -0.4686e-4)
_K1_L = (1.25331414, 0.23498619, -0.3655620e-1, 0.1504268e-1, -0.780353e-2, 0.325614e-2,
         -0.68245e-3)


def _i0(x: float) -> float:
    ax = abs(x)
    if ax < 3.75:
        return _poly((x / 3.75) ** 2, _I0_S)
    return math.exp(ax) / math.sqrt(ax) * _poly(3.75 / ax, _I0_L)


def _i1(x: float) -> float:
    ax = abs(x)
    if ax < 3.75:
        r = ax * _poly((x / 3.75) ** 2, _I1_S)
    else:
        r = math.exp(ax) / math.sqrt(ax) * _poly(3.75 / ax, _I1_L)
    return -r if x < 0 else r


def _in(n: int, x: float) -> float:
    if n == 0:
        return _i0(x)
    if n == 1:
        return _i1(x)
    if x == 0.0:
        return 0.0
    tox = 2.0 / abs(x)
    bip = ans = 0.0
    bi = 1.0
    for j in range(2 * (n + int(math.sqrt(_ACC * n))), 0, -1):
        bim = bip + j * tox * bi
        bip, bi = bi, bim
        if abs(bi) > _BIGNO:
            ans *= _BIGNI
            bi *= _BIGNI
            bip *= _BIGNI
        if j == n:
            ans = bip
    ans *= _i0(x) / bi
    return -ans if x < 0 and n % 2 else ans


def _k0(x: float) -> float:
    if x <= 2.0:
        return -math.log(x / 2.0) * _i0(x) + _poly(x * x / 4.0, _K0_S)
    return math.exp(-x) / math.sqrt(x) * _poly(2.0 / x, _K0_L)


def _k1(x: float) -> float:
    if x <= 2.0:
        return math.log(x / 2.0) * _i1(x) + (1.0 / x) * _poly(x * x / 4.0, _K1_S)
    return math.exp(-x) / math.sqrt(x) * _poly(2.0 / x, _K1_L)


def _kn(n: int, x: float) -> float:
    if n == 0:
        return _k0(x)
    if n == 1:
        return _k1(x)
    tox = 2.0 / x
    bkm, bk = _k0(x), _k1(x)
    for j in range(1, n):
        bkm, bk = bk, bkm + j * tox * bk
    return bk


def _bessel_args(x, n):
    xv = _num(x)
    nv = _trunc(_num(n))
    if nv < 0:
        raise V.NUM
    return xv, nv


# The recurrences above take O(n) steps: BESSELJ(1, 1E9) looped for many minutes.
def _tiny_order(n: int, x: float) -> bool:
    """An order so far above |x| that J_n(x) and I_n(x) underflow to 0 and Y_n(x), K_n(x)
    overflow (#NUM!): |J_n(x)| <= (|x|/2)^n / n! <= (e|x|/2n)^n < 2^-n, and I_n(x) is at
    most that times exp(x^2/4(n+1)) < exp(0.034 n), both below 1e-323 once n > 1200; Y_n
    and K_n grow as the reciprocal (about e^(0.66 n) for n = e|x|)."""
    return n > 1200 and n > math.e * abs(x)


# Beyond this order, with |x| within e times it, no shortcut applies and the loop would
# run for seconds to hours: #NUM! (a bound of ours; Excel's own limit is not documented)
_BESSEL_MAX_ORDER = 1_000_000


def _bessel_order(nv: int, xv: float, small) -> float | None:
    if _tiny_order(nv, xv):
        if small is None:
            raise V.NUM
        return small
    if nv > _BESSEL_MAX_ORDER:
        raise V.NUM
    return None


@atp("BESSELJ", SCALAR, SCALAR)
def BESSELJ(x, n):
    xv, nv = _bessel_args(x, n)
    r = _bessel_order(nv, xv, 0.0)
    return _jn(nv, xv) if r is None else r


@atp("BESSELY", SCALAR, SCALAR)
def BESSELY(x, n):
    xv, nv = _bessel_args(x, n)
    if xv <= 0:
        return V.NUM
    _bessel_order(nv, xv, None)
    return _yn(nv, xv)


@atp("BESSELI", SCALAR, SCALAR)
def BESSELI(x, n):
    xv, nv = _bessel_args(x, n)
    r = _bessel_order(nv, xv, 0.0)
    return _in(nv, xv) if r is None else r


@atp("BESSELK", SCALAR, SCALAR)
def BESSELK(x, n):
    xv, nv = _bessel_args(x, n)
    if xv <= 0:
        return V.NUM
    _bessel_order(nv, xv, None)
    return _kn(nv, xv)
