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
