"""skeleton_key's fast path (plans per digit-run structure, parser.py) gives exactly what
its general path `_skeleton_key_slow` gives (types included), on the Excel-saved corpus,
on every formula the benchmark generator writes and on hand-written hard cases, each
repeated with other digits so that plans (built on a structure's second text) answer."""
from __future__ import annotations

import glob
import pathlib
import random
import re

import pytest

from xleval.loader.xlsx import load_workbook
from xleval.parser import parser as P
from xleval.refs import MAX_COL, MAX_ROW

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONF = ROOT.parent / "shared" / "conformance"


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Each test starts with no plans (and leaves none to the next)."""
    for cache in (P._PLANS, P._SEEN, P._BY_SHAPE):
        cache.clear()
    yield
    for cache in (P._PLANS, P._SEEN, P._BY_SHAPE):
        cache.clear()


@pytest.fixture
def slow_calls(monkeypatch):
    """Counts the general path's runs (the real function still answers), to show that
    the plans, not the general path, give the later texts of a structure."""
    calls = [0]
    real = P._skeleton_key_slow

    def counted(text, origin):
        calls[0] += 1
        return real(text, origin)
    monkeypatch.setattr(P, "_skeleton_key_slow", counted)
    return calls


def _same(text: str, origin: tuple[int, int]) -> None:
    got = P.skeleton_key(text, origin)
    want = P._skeleton_key_slow(text, origin)
    assert got == want, (text, origin)
    if want is not None:
        assert type(got) is tuple and len(got) == 3, (text, origin)
        assert [type(x) for x in got] == [str, list, str], (text, origin)
        assert all(type(n) is str for n in got[1]), (text, origin)


def _other_digits(text: str, rnd: random.Random) -> str:
    """`text` with every digit run replaced by another of the same kind (1-7 digits,
    or 8+), leading zeros included: a text of the same structure."""
    def run(m):
        n = rnd.randint(1, 7) if len(m.group()) <= 7 else rnd.randint(8, 10)
        return "".join(rnd.choice("0123456789") for _ in range(n))
    return re.sub(r"[0-9]+", run, text)


def _origins(origin: tuple[int, int]) -> list[tuple[int, int]]:
    r, c = origin
    return [origin, (1, 1), (r + 7, c + 2), (MAX_ROW, MAX_COL)]


def _check_repeated(texts, rnd: random.Random, variants: int = 3) -> None:
    """Each (text, origin) at several origins, repeated (the first _PLAN_AFTER times: the
    general path, then the plan is built, then found by its exact shape), and texts of
    its structure."""
    for text, origin in texts:
        for o in _origins(origin):
            for _ in range(P._PLAN_AFTER + 2):
                _same(text, o)
            for _ in range(variants):
                _same(_other_digits(text, rnd), o)


# ----------------------------------------------------------------------------------------
# hand-written hard cases
# ----------------------------------------------------------------------------------------
ADVERSARIAL = [
    "LOG10(A1)+ATAN2(B2,C3)+DAYS360(D4,E5)", "LOG10(100)*2", "Sheet1!A1+1", "Sheet1!A1:B2",
    "Q1!A1+1", "A01+1", "$A$01*2", "$A$1+A$1+$A1+A1", "SUM(1:3)", "SUM($1:$3)", "SUM(A:C)",
    "SUM($A:$C)*2", "SUM(3:$5)+1", "1E+5+A1", "1.5e-3*B2", ".5+A1", "5.+A1", "A1*12345678",
    "A12345678+1", "XFD1048576+1", "XFE1+1", "R1C1+1", "R1C1*RC1", "RC[1]+1", "{1,2}+A1",
    '"a1"&A1', '"x"&1', "[1]Sheet!A1+1", "'My Sheet 1'!A1+1", "Table1[Col1]+1",
    "ÄÖ1+A1", "é1+2", "A1+٣2", "٣12.5+A1", "A1+12٣", "$1+A1", "A$1.5", "A1.5+1", "1.2.3+A1",
    "A1!B2", "(1)+(A1)", "A1(2)", "SUM(A1:A10)/10%", "A1%+5%", "-1-A1", "1--1", "A1^-2.5E-3",
    "SUM(A1 B2)", "SUM((A1,B2))", "IF(A1>0,#DIV/0!,1)", "#REF!+1", "Sheet1!#REF!+2",
    "_xlfn.XLOOKUP(A1,B1:B9,C1:C9)", "A1+\x1d2", "A1+\x1c2", "A1+\x1e2", "A1+\xff2",
    "ABCD1+1", "A0+1", "a1+b2*c3", "$a$1+1", "A1:B2:C3", "1:1", "$1:1", "A 1", "A1 .5",
    "0.000001+A1", "00012.500+A01", "1e5", "1E5E5", "9999999+A9999999", "A10000000+1",
    "ROUND(A1,2)&B2", "A1%%2", "%1+A1", "SUM(A1:A5 A3:A9)", "A1:A5!B2", "1!A1",
    "=A1+1", "A1+1=2", "A1>=1.0", "1 + 2", " A1 ", "",
]


def test_adversarial_texts_at_several_origins_and_with_other_digits():
    rnd = random.Random(7)
    _check_repeated([(t, (3, 4)) for t in ADVERSARIAL], rnd, variants=6)


@pytest.mark.parametrize("text,origin,want", [
    # worked by hand: relative row/column offsets, absolute parts, numbers taken out
    ("A2*1.5", (2, 3), ("R[0]C[-2]*\x1d", ["1.5"], "\x1eR[0]C[-2]*1.5")),
    ("$A$01+B7*2", (5, 5), ("R1C1+R[2]C[-3]*\x1d", ["2"], "\x1eR1C1+R[2]C[-3]*2")),
    ("SUM(3:$5)+LOG10(C1)", (4, 1),
     ("SUM(R[-1]:R5)+LOG10(R[-3]C[2])", [], "\x1eSUM(R[-1]:R5)+LOG10(R[-3]C[2])")),
    ("Sheet1!A1+1E+3", (1, 1), ("Sheet1!R[0]C[0]+\x1d", ["1E+3"], "\x1eSheet1!R[0]C[0]+1E+3")),
])
def test_known_keys_from_the_plans(text, origin, want):
    for _ in range(P._PLAN_AFTER + 2):  # general path, plan built, plan by shape
        assert P.skeleton_key(text, origin) == want
    assert callable(next(iter(P._PLANS.values())))


def test_texts_without_a_key_stay_without_through_plans():
    for text in ['A1&"1"', "{1,2}+A1", "'My 1'!A1+1", "Table1[Col]+1", "Q1!A1+1"]:
        for r in range(1, 6):
            assert P.skeleton_key(re.sub("1", str(r), text), (r, 2)) is None


# ----------------------------------------------------------------------------------------
# the plans are really used
# ----------------------------------------------------------------------------------------
def test_plans_answer_after_the_first_texts_of_a_structure(slow_calls):
    texts = [(f"IF(AND(A{r}>{r}.{r % 97},B{r}<1{r}.5),A{r}-B{r},A{r}+B{r}*{r % 13}.25)",
              (r, 3)) for r in range(2, 402)]
    for t, o in texts:
        _same(t, o)
    # _same calls the general path itself once per text; skeleton_key ran it for the
    # first _PLAN_AFTER texts of the structure and once more to build its plan
    assert slow_calls[0] == len(texts) + P._PLAN_AFTER + 1
    assert sum(callable(p) for p in P._PLANS.values()) == 1


def test_a_structure_met_rarely_builds_no_plan(slow_calls):
    for i in range(P._PLAN_AFTER):
        for t in ["A1+1", "B2*2", "C3/3", "SUM(D4:D5)"]:
            P.skeleton_key(t.replace("1", str(i + 1)), (1, 1))
    assert not any(callable(p) for p in P._PLANS.values())
    assert slow_calls[0] == 4 * P._PLAN_AFTER


def test_caches_stay_bounded_and_right(monkeypatch):
    monkeypatch.setattr(P, "_PLAN_CACHE_MAX", 5)
    rnd = random.Random(3)
    planned = 0
    for i in range(60):
        text = f"A1+{'B1*' * (i % 11)}{i}.5"
        for _ in range(P._PLAN_AFTER + 3):
            _same(_other_digits(text, rnd), (1 + i, 1 + i % 3))
        assert len(P._PLANS) <= 5 and len(P._SEEN) <= 5 and len(P._BY_SHAPE) <= 5
        planned += any(callable(p) for p in P._PLANS.values())
    assert planned > 30


# ----------------------------------------------------------------------------------------
# every formula the benchmark generator writes, at small sizes
# ----------------------------------------------------------------------------------------
def _formulas(path) -> list[tuple[str, tuple[int, int]]]:
    out = []
    for sheet in load_workbook(str(path)).sheets:
        out += [(fc.text, fc.origin) for fc in sheet.formulas.values()]
    return out


def test_generated_workbooks_formulas(tmp_path, bench_generate):
    gen = bench_generate
    rnd = random.Random(11)
    for shape in gen.SHAPES:
        path = tmp_path / f"{shape}.xlsx"
        gen.generate(shape, 60, str(path))
        items = _formulas(path)
        assert items, shape
        for t, o in items:              # in workbook order: plans from earlier rows
            _same(t, o)
        _check_repeated(sorted(set(items))[:150], rnd, variants=1)


# ----------------------------------------------------------------------------------------
# the Excel-saved conformance corpus
# ----------------------------------------------------------------------------------------
@pytest.mark.skipif(not (CONF / "workbooks").is_dir(), reason="no conformance corpus")
def test_conformance_corpus_formulas():
    items: list[tuple[str, tuple[int, int]]] = []
    for path in sorted(glob.glob(str(CONF / "workbooks" / "**" / "*.xls[xm]"),
                                 recursive=True)):
        try:
            items += _formulas(path)
        except Exception:               # noqa: BLE001 - a workbook the loader refuses
            continue
    assert len(items) > 1000
    for t, o in items:                  # as preparing meets them: shared plans
        _same(t, o)
    distinct = sorted(set(items))
    rnd = random.Random(5)
    for text, origin in distinct:
        for o in _origins(origin):
            for _ in range(P._PLAN_AFTER + 2):
                _same(text, o)
        _same(_other_digits(text, rnd), origin)
    assert sum(callable(p) for p in P._PLANS.values()) > 50


def test_random_formula_like_texts():
    """Random mixes of reference and number pieces, punctuation, quotes, non-ASCII
    letters and digits, each structure met several times with other digits."""
    rnd = random.Random(2024)
    atoms = ["A", "B", "XFD", "$", ".", ":", "!", "(", ")", "[", "{", '"', "'", "%", "E",
             "e", "+", "-", ",", " ", "é", "٣", "LOG", "SUM(", "Sheet", "R", "C", "#REF!",
             "*", "/", "^", "&", "<", ">", "="]
    for _ in range(3000):
        parts = [rnd.choice(atoms) if rnd.random() < 0.6 else "1"
                 for _ in range(rnd.randint(1, 12))]
        text = "".join(parts)
        origin = (rnd.randint(1, 500), rnd.randint(1, 40))
        for _ in range(P._PLAN_AFTER + 3):
            _same(_other_digits(text, rnd), origin)
