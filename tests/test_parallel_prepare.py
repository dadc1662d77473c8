"""Preparing formulas with forked processes (scheduler/prepare.py) gives what preparing
them in one process gives."""
import multiprocessing as mp
import os
from functools import partial

import pytest

import xleval
from xleval.parser.parser import skeleton_key
from xleval.scheduler import prepare as parallel

pytestmark = pytest.mark.skipif("fork" not in mp.get_all_start_methods(),
                                reason="parallel preparing needs fork")


def _hand_typed(n=300):
    """Every formula its own text (hand-typed constants), some with strings or ranges (no
    skeleton), a few repeated texts."""
    cells = {f"A{r}": float(r) for r in range(1, n + 1)}
    for r in range(1, n + 1):
        cells[f"B{r}"] = f"=A{r}*{r}.5+{r % 7}"
        cells[f"C{r}"] = f"=IF(B{r}>{r * 3},B{r}-{r},-{r}E-1)"
        cells[f"D{r}"] = f'=IF(C{r}>0,"up {r}","down")'              # text: no skeleton
        cells[f"E{r}"] = f"=SUM($A$1:A{r})/{r % 5 + 1}"
    return cells


def test_skeleton_keys_in_workers_are_the_keys_computed_here(monkeypatch):
    monkeypatch.setattr(parallel, "PARALLEL_MIN", 10)
    items = [(f"A{r}*{r}.25+SUM(B$1:B{r})", (r, 3)) for r in range(1, 2001)]
    items += [('"x"&A1', (1, 1)), ("{1,2}+A1", (2, 2)), ("Q1!A1+1", (3, 3))]
    assert parallel.skeleton_keys(items, 2) == [skeleton_key(t, o) for t, o in items]
    assert mp.active_children() == []


def test_prepare_with_workers_makes_the_same_shapes_and_values(monkeypatch):
    monkeypatch.setattr(parallel, "PARALLEL_MIN", 10)
    one = xleval.Workbook.from_dict({"S": _hand_typed()})
    two = xleval.Workbook.from_dict({"S": _hand_typed()})
    one.engine.prepare()
    two.engine.prepare(partial(parallel.skeleton_keys, workers=2))
    assert [(sh.key, sh.family, sh.k) for sh in one.engine.shapes] == \
        [(sh.key, sh.family, sh.k) for sh in two.engine.shapes]
    one.calculate(strategy="serial")
    two.calculate(strategy="pool", workers=2)
    assert one.formula_values() == two.formula_values()
    assert two["S!B10"] == 10 * 10.5 + 3 and two["S!D2"] == "up 2"
    assert mp.active_children() == []


_FORKS: list = []
os.register_at_fork(before=lambda: _FORKS.append(1))


def test_few_texts_stay_in_this_process(monkeypatch):
    items = [(f"A{r}+{r}", (r, 2)) for r in range(1, 50)]
    n = len(_FORKS)
    assert parallel.skeleton_keys(items, 2) is None     # below PARALLEL_MIN: declined
    assert len(_FORKS) == n                             # and no process started
    monkeypatch.setattr(parallel, "PARALLEL_MIN", 10)
    assert parallel.skeleton_keys(items, 2) == [skeleton_key(t, o) for t, o in items]
    assert len(_FORKS) == n + 2                         # two workers forked
