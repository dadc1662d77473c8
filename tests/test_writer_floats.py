"""The writer prints many floats in one call (writer.xlsx._float_list): with orjson where it
is installed, else json's encoder; either way each text is repr's, so a value is written
the same whichever path (bulk or per value) prints it."""
import json
import math
import random
import struct

import pytest

import xleval.writer.xlsx as W
from xleval.writer.xlsx import encode_number

_JSON = json.JSONEncoder(separators=(",", ":"))


def _values(n: int, seed: int) -> list[float]:
    """Finite floats of every kind: uniform, integral (past 1e16 too), tiny and huge
    exponents, 1e-6..1e-3 (where orjson's text and repr's differ), whole numbers plus a
    small fraction (10.00001: '0.0000' inside a token), a few decimals, any bit pattern."""
    rng = random.Random(seed)
    out = [10.00001, 1230.00004, -10.00001, 0.00001, -0.00005, 2.5e-7, 1e-4, 9.99e-5,
           5e-324, 1e16, 9999999999999998.0, 1e22, 0.0, 0.1 + 0.2]
    while len(out) < n:
        k = rng.random()
        if k < 0.2:
            v = rng.uniform(-1e6, 1e6)
        elif k < 0.3:
            v = float(rng.randint(-10**17, 10**17))
        elif k < 0.5:
            v = rng.choice([-1, 1]) * 10 ** rng.uniform(-320, 308)
        elif k < 0.6:
            v = rng.choice([-1, 1]) * 10 ** rng.uniform(-8, -3)
        elif k < 0.7:
            v = rng.randint(0, 10**6) + rng.choice([0.00001, 0.000012, 0.0000001])
        elif k < 0.8:
            v = round(rng.uniform(-1000, 1000), rng.randint(0, 6))
        else:
            v = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(63)))[0]
        if math.isfinite(v) and v != 0.0:
            out.append(v)
    return out


@pytest.mark.parametrize("orjson", [True, False])
def test_float_list_prints_as_repr(monkeypatch, orjson):
    if orjson:
        pytest.importorskip("orjson")
    else:
        monkeypatch.setattr(W, "_orjson_dumps", None)
    vals = _values(100_000, seed=11)
    assert W._float_list(vals) == _JSON.encode(vals)


@pytest.mark.parametrize("orjson", [True, False])
def test_bulk_texts_are_the_per_value_texts(monkeypatch, orjson):
    if not orjson:
        monkeypatch.setattr(W, "_orjson_dumps", None)
    vals = _values(20_000, seed=5)
    assert W._float_texts(vals) == [encode_number(v).encode() for v in vals]
    wrapped = W._float_texts(vals[:3], wrap=True)
    assert wrapped == [b"<v>" + encode_number(v).encode() + b"</v></c>" for v in vals[:3]]
    # NaN, infinities and -0.0 go the per-value way
    for odd in (math.nan, math.inf, -math.inf, -0.0):
        assert W._float_texts([1.5, odd, 2.0]) is None
        assert W._float_texts([odd]) is None
