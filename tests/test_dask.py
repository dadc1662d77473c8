"""Scale-out on a real Dask cluster (a LocalCluster of 2 worker processes): many-workbook
`xleval calc --executor dask` against the cluster's address, compared with a local run and
with the values LibreOffice cached in the fixtures; `run_batch(client=...)` compared with the
serial batch and with values worked out by hand."""
import json
import math
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

distributed = pytest.importorskip("distributed")

import xleval  # noqa: E402
from xleval.distributed import calc_one  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIX = ROOT / "fixtures" / "workbooks"
BOOKS = sorted(FIX.glob("*.xlsx"))
XLEVAL = ROOT / ".venv" / "bin" / "xleval"


@pytest.fixture(scope="module")
def cluster():
    """A real cluster: 2 single-threaded worker processes (slow to start on a busy machine)."""
    import logging
    cl = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=logging.ERROR)
    client = distributed.Client(cl, timeout=60)
    client.wait_for_workers(2, timeout=60)
    yield cl, client
    client.close()
    cl.close()


def run(*args, cwd=None):
    cmd = [str(XLEVAL)] if XLEVAL.exists() else [sys.executable, "-m", "xleval"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("XLEVAL_DEBUG", None)
    return subprocess.run(cmd + [str(a) for a in args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env=env)


def _close(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(b, float) and isinstance(a, int) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def _values(path) -> dict:
    """Every cell's cached value, read by an independent reader (openpyxl)."""
    import openpyxl
    wb = openpyxl.load_workbook(path, data_only=True)
    return {(ws.title, c.coordinate): c.value for ws in wb for row in ws.iter_rows()
            for c in row if c.value is not None}


def test_many_workbooks_on_dask_match_local_and_libreoffice(cluster, tmp_path):
    cl, _ = cluster
    bad = tmp_path / "corrupt.xlsx"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    out_dask, out_local = tmp_path / "dask", tmp_path / "local"
    inputs = [*BOOKS, bad]
    pd_ = run("calc", "--executor", "dask", "--scheduler", cl.scheduler_address, *inputs,
              "-o", out_dask)
    pl = run("calc", "--executor", "local", *inputs, "-o", out_local)
    for p in (pd_, pl):
        # the corrupt file: exactly one line on stderr, non-zero status, the others written
        assert p.returncode == 2, p.stderr
        assert p.stderr.splitlines() == [p.stderr.splitlines()[0]], p.stderr
        assert p.stderr.startswith(f"xleval: {bad}: "), p.stderr
        assert "Traceback" not in p.stdout + p.stderr
        assert "3 recalculated, 1 failed" in p.stdout
        for book in BOOKS:
            assert f"workbook   {book}" in p.stdout
    assert "executor dask" in pd_.stdout
    assert sorted(x.name for x in out_dask.iterdir()) == sorted(b.name for b in BOOKS)
    assert sorted(x.name for x in out_local.iterdir()) == sorted(b.name for b in BOOKS)
    for book in BOOKS:
        expected = _values(book)             # LibreOffice computed and cached these
        got_dask, got_local = _values(out_dask / book.name), _values(out_local / book.name)
        assert got_dask == got_local
        assert got_dask.keys() == expected.keys()
        wrong = [k for k in expected if not _close(expected[k], got_dask[k])]
        assert wrong == [], book.name


def test_dask_json_outputs_and_cells_match_local(cluster, tmp_path):
    cl, _ = cluster
    copy = tmp_path / "chain_copy.xlsx"
    shutil.copy(FIX / "chain.xlsx", copy)
    runs = {}
    for executor in ("dask", "local"):
        extra = ["--scheduler", cl.scheduler_address] if executor == "dask" else []
        # --cells with several inputs: one line per cell, prefixed by the workbook
        p = run("calc", "--executor", executor, *extra, FIX / "chain.xlsx", copy,
                "-o", tmp_path / executor, "--format", "json", "--cells", "Chain!D3,Chain!A1:A2")
        assert p.returncode == 0, p.stderr
        assert "Traceback" not in p.stderr and "distributed" not in p.stderr
        runs[executor] = p
    assert runs["dask"].stdout == runs["local"].stdout
    expected = _values(FIX / "chain.xlsx")       # LibreOffice's cached values
    d3, a1, a2 = (expected[("Chain", c)] for c in ("D3", "A1", "A2"))
    assert runs["dask"].stdout.splitlines() == [
        f"{FIX / 'chain.xlsx'}\tChain!D3\t{d3:g}", f"{FIX / 'chain.xlsx'}\tChain!A1:A2\t{a1:g}",
        f"{FIX / 'chain.xlsx'}\tChain!A1:A2\t{a2:g}",
        f"{copy}\tChain!D3\t{d3:g}", f"{copy}\tChain!A1:A2\t{a1:g}",
        f"{copy}\tChain!A1:A2\t{a2:g}"]
    for name in ("chain.json", "chain_copy.json"):
        a = json.loads((tmp_path / "dask" / name).read_text())
        b = json.loads((tmp_path / "local" / name).read_text())
        assert a == b
        assert a["sheets"]["Chain"]["D3"] == d3


def test_single_workbook_on_dask_writes_the_file(cluster, tmp_path):
    cl, _ = cluster
    out = tmp_path / "model.xlsx"
    p = run("calc", "--executor", "dask", "--scheduler", cl.scheduler_address,
            FIX / "quarterly_model.xlsx", "-o", out, "--cells", "Model!D2")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["Model!D2\t1200"]
    assert p.stderr.startswith("workbook   ")   # one input: the usual single summary
    assert "recalculated," not in p.stderr
    assert _values(out)[("Model", "D2")] == 1200
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_cli_errors_are_one_line(tmp_path):
    env_timeout = {"XLEVAL_DASK_CONNECT_TIMEOUT": "2"}
    os.environ.update(env_timeout)
    try:
        p = run("calc", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9",
                FIX / "chain.xlsx")
    finally:
        os.environ.pop("XLEVAL_DASK_CONNECT_TIMEOUT")
    assert p.returncode == 2
    assert p.stderr.startswith("xleval: cannot connect to the Dask scheduler at tcp://127.0.0.1:9")
    assert len(p.stderr.splitlines()) == 1
    p = run("calc", "--scheduler", "tcp://127.0.0.1:9", FIX / "chain.xlsx")
    assert p.returncode == 2 and p.stderr == "xleval: --scheduler needs --executor dask\n"
    # two inputs with the same name would overwrite each other's output
    shutil.copy(FIX / "chain.xlsx", tmp_path / "chain.xlsx")
    p = run("calc", FIX / "chain.xlsx", tmp_path / "chain.xlsx", "-o", tmp_path / "out")
    assert p.returncode == 2 and "would both be written to" in p.stderr
    assert not (tmp_path / "out").exists()
    p = run("calc", FIX / "chain.xlsx", FIX / "circular.xlsx", "-o", tmp_path / "both.xlsx")
    assert p.returncode == 2 and p.stderr.endswith("with several inputs, -o must be a directory\n")


def test_worker_reads_shipped_bytes_when_it_cannot_see_the_path(cluster):
    _, client = cluster
    src = FIX / "chain.xlsx"
    spec = {"path": "/nowhere/on/the/worker/chain.xlsx", "name": "chain.xlsx", "data": None,
            "output": "chain.xlsx", "format": "xlsx", "sheet": None, "cells": ["Chain!D3"],
            "strategy": "serial", "workers": None, "now": None, "links": "cached",
            "links_dir": None, "link_timeout": None, "in_place": False, "return_bytes": True}
    missing = client.submit(calc_one, spec, pure=False).result()
    assert not missing["ok"] and missing["missing"] and missing["code"] == 2
    assert missing["error"].startswith("chain.xlsx: ")
    shipped = client.submit(calc_one, dict(spec, data=src.read_bytes()), pure=False).result()
    assert shipped["ok"], shipped.get("error")
    assert shipped["cells"] == [("Chain!D3", [["2000"]])]
    assert shipped["bytes"][:2] == b"PK"


# ---------------------------------------------------------------------------------------------
# run_batch(client=...)

needs_model = pytest.mark.skipif(not hasattr(xleval, "compile"),
                                 reason="the model API (xleval.compile) has not landed")


@pytest.fixture()
def model_book(tmp_path):
    """B1 = A1*2 + A2, B2 = IF(A1>A2,"big","small"), B3 = 1/A2 (#DIV/0! when A2 = 0); C1 is
    blank in the workbook, an input and an output (blank in some rows, a number in others)."""
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws["A1"], ws["A2"] = 1, 1
    ws["B1"], ws["B2"], ws["B3"] = "=A1*2+A2", '=IF(A1>A2,"big","small")', "=1/A2"
    path = tmp_path / "m.xlsx"
    wb.save(path)
    return path


def _cached_models() -> int:
    from xleval import distributed as xd
    return len(xd._MODELS)


@needs_model
def test_run_batch_on_dask_equals_serial_and_hand_values(cluster, model_book):
    import pandas as pd
    from xleval.distributed import run_batch_dask
    _, client = cluster
    model = xleval.compile(str(model_book), inputs=["Sheet1!A1", "Sheet1!A2", "Sheet1!C1"],
                           outputs=["Sheet1!B1", "Sheet1!B2", "Sheet1!B3", "Sheet1!C1"])
    n = 40
    xs = [float(i) for i in range(n)]
    ys = [float((i * 7) % 5) for i in range(n)]
    cs = [None if i % 3 else float(i) for i in range(n)]
    df = pd.DataFrame({"Sheet1!A1": xs, "Sheet1!A2": ys, "Sheet1!C1": cs},
                      index=[f"r{i}" for i in range(n)][::-1])
    serial = model.run_batch(df, strategy="serial")
    # default partitions (through the model's own entry point), a few, and one row each: the
    # last makes every part's columns differ in dtype from the whole frame's
    pd.testing.assert_frame_equal(model.run_batch(df, client=client), serial)
    for parts in (3, n):
        pd.testing.assert_frame_equal(run_batch_dask(model, df, client, partitions=parts),
                                      serial)
    pd.testing.assert_frame_equal(run_batch_dask(model, df.iloc[:0], client),
                                  model.run_batch(df.iloc[:0], strategy="serial"))
    assert list(serial.index) == list(df.index)
    # each single-threaded worker rebuilt the model once and reused it for every call
    assert sorted(client.run(_cached_models).values()) == [1, 1]
    for i, (x, y, c) in enumerate(zip(xs, ys, cs)):
        row = serial.iloc[i]
        assert row["Sheet1!B1"] == x * 2 + y
        assert row["Sheet1!B2"] == ("big" if x > y else "small")
        if y == 0:
            assert row["Sheet1!B3"] == xleval.XLError("#DIV/0!")
        else:
            assert row["Sheet1!B3"] == pytest.approx(1 / y)
        assert (math.isnan(row["Sheet1!C1"]) if c is None else row["Sheet1!C1"] == c)
