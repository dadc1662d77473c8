"""xleval.arrays.group_ids against np.unique, and the start-up it saves: a calculation
never imports numpy.ma (np.unique's first call does, ~15 ms)."""
import subprocess
import sys

import numpy as np
import pytest

from xleval.arrays import group_ids


@pytest.mark.parametrize("n", [0, 1, 2, 7, 1000])
def test_group_ids_is_uniques_index_and_inverse(n):
    rng = np.random.default_rng(n)
    for x in (rng.integers(0, 5, n), rng.integers(-2**62, 2**62, n), np.zeros(n, np.int64)):
        _, index, inverse = np.unique(x, return_index=True, return_inverse=True)
        first, groups = group_ids(x)
        assert first.tolist() == index.tolist()
        assert groups.tolist() == inverse.reshape(-1).tolist()


def test_a_calculation_does_not_import_numpy_ma(tmp_path, bench_generate):
    """The paths that group cells (thin runs, whole layers sent to a pool, number tables)
    use group_ids: a pool run of hand-typed formulas and a chain, in a fresh process."""
    books = []
    for shape, rows in (("hetero", 600), ("chain", 200)):
        path = tmp_path / f"{shape}.xlsx"
        bench_generate.generate(shape, rows, str(path))
        books.append(str(path))
    code = (
        "import sys, xleval\n"
        "from xleval.evaluator import numbers\n"
        "numbers.MIN_CELLS = 1\n"
        f"for path in {books!r}:\n"
        "    wb = xleval.load(path)\n"
        "    wb.calculate(strategy='pool', workers=2)\n"
        "    wb.calculate(strategy='serial')\n"
        "print('numpy.ma' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# Excel's limit on one array: 53,687,091 elements (COUNT(SEQUENCE(3741,14351)) works,
# SEQUENCE(33284,1613), one element more, runs out of resources), and 2**20 on a side
@pytest.mark.parametrize("formula,expected", [
    ("=ROWS(SEQUENCE(1048576,16384))", "#NUM!"),        # 17 billion: was a hang
    ("=ROWS(SEQUENCE(33284,1613))", "#NUM!"),
    ("=ROWS(SEQUENCE(100000)*SEQUENCE(1,100000))", "#NUM!"),     # an outer product
    ("=ROWS(IF(SEQUENCE(100000)>0,SEQUENCE(1,100000)))", "#NUM!"),
    ("=ROWS(CHOOSE(SEQUENCE(100000),SEQUENCE(1,100000)))", "#NUM!"),
    ("=ROWS(ROUND(SEQUENCE(100000),SEQUENCE(1,100000)))", "#NUM!"),  # lifted per element
    ("=ROWS(MMULT(SEQUENCE(100000),SEQUENCE(1,100000)))", "#NUM!"),
    ("=ROWS(MAKEARRAY(100000,100000,LAMBDA(r,c,r)))", "#NUM!"),
    ("=ROWS(MUNIT(100000))", "#NUM!"),
    ("=ROWS(RANDARRAY(1000000,1000000))", "#NUM!"),
    ("=ROWS(EXPAND(1,1000000,1000))", "#NUM!"),
    # an array may be wider than a sheet; SEQUENCE beyond 2**20 is #VALUE!
    ("=SUM(SEQUENCE(1,20000))", 20000 * 20001 / 2),
    ("=SUM(SEQUENCE(,2^20+1))", "#VALUE!"),
    ("=SUM(SEQUENCE(1000)*SEQUENCE(1,3))", 6 * 1000 * 1001 / 2),
])
def test_arrays_over_excels_size_limit_are_num_at_once(formula, expected):
    import xleval
    got = xleval.evaluate(formula)
    assert (str(got) if isinstance(expected, str) else got) == expected


def test_array_size_limit_boundary():
    from xleval.values import MAX_ARRAY_ELEMENTS, too_large
    assert MAX_ARRAY_ELEMENTS == 3741 * 14351
    assert not too_large(3741, 14351) and too_large(33284, 1613)
