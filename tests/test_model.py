"""Compiled models (xleval.compile): sub-graph, calls, batches (serial and a real process pool
under fork and spawn), save/load. Expected values come from LibreOffice's cached values in the
fixture and from arithmetic done by hand in the comments."""
import math
import multiprocessing as mp
import os
import pathlib

import pandas as pd
import psutil
import pytest

import xleval
from xleval.errors import XlevalError
from xleval.loader.model import DefinedName
from xleval.values import XLError

FIX = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "workbooks"
QM = FIX / "quarterly_model.xlsx"


def small_book() -> xleval.Workbook:
    return xleval.Workbook.from_dict({
        "In": {"A1": 2, "A2": 3, "A3": 4, "B1": 10},
        "Calc": {
            "A1": "=In!A1*In!B1",            # 20
            "A2": "=SUM(In!A1:A3)",          # 9
            "A3": "=A1+A2",                  # 29
            "A4": "=1/(In!A1-2)",            # #DIV/0!
            "B1": "=In!B1*100",              # 1000: does not depend on In!A1:A3
            "B2": "=B1+1",                   # 1001
            "C1": "=7*6",                    # 42: outside every output's closure
        },
    })


@pytest.fixture(scope="module")
def small_model():
    return xleval.compile(small_book(), inputs=["In!A1:A3"],
                          outputs=["Calc!A3", "Calc!A1:A2", "Calc!A4", "Calc!B2"])


def test_interface_and_subgraph(small_model):
    m = small_model
    assert m.inputs == ["In!A1:A3"]
    assert m.input_cells == ["In!A1", "In!A2", "In!A3"]
    assert m.outputs == ["Calc!A3", "Calc!A1:A2", "Calc!A4", "Calc!B2"]
    assert m.output_cells == ["Calc!A3", "Calc!A1", "Calc!A2", "Calc!A4", "Calc!B2"]
    d = m.describe()
    # only A1, A2, A3, A4 read the inputs; B1/B2 are constants now, C1 is dropped
    assert d["formulas"] == 4 and d["formulas_kept"] == 4
    assert d["whole_workbook"] is False
    assert set(d) >= {"inputs", "outputs", "input_cells", "output_cells", "formulas", "source"}
    import json
    json.dumps(d)


def test_call_defaults_and_values(small_model):
    out = small_model({})
    assert out["Calc!A3"] == 29.0 and out["Calc!A1:A2"] == [[20.0], [9.0]]
    assert isinstance(out["Calc!A4"], XLError) and out["Calc!A4"].code == "#DIV/0!"
    assert out["Calc!B2"] == 1001.0
    # In!A1 = 5: A1 = 50, A2 = 5+3+4 = 12, A3 = 62, A4 = 1/3
    out = small_model({"In!A1": 5})
    assert out["Calc!A3"] == 62.0 and out["Calc!A1:A2"] == [[50.0], [12.0]]
    assert math.isclose(out["Calc!A4"], 1 / 3)
    # a range input takes a flat list or row lists; cells not given go back to the workbook
    assert small_model({"In!A1:A3": [1, 1, 1]})["Calc!A3"] == 13.0      # 10 + 3
    assert small_model({"In!A1:A3": [[2], [0], [0]]})["Calc!A3"] == 22.0  # 20 + 2
    assert small_model({"In!A2": 0})["Calc!A3"] == 26.0                  # 20 + 6
    assert small_model({"'In'!$A$2": 1})["Calc!A3"] == 27.0              # other spellings


def test_bad_keys_and_shapes(small_model):
    with pytest.raises(XlevalError, match="unknown model input 'In!B1'"):
        small_model({"In!B1": 1})
    with pytest.raises(XlevalError, match="3 cells"):
        small_model({"In!A1:A3": [1, 2]})
    with pytest.raises(XlevalError, match="needs a sheet"):
        xleval.compile(small_book(), ["A1"], ["Calc!A1"])
    with pytest.raises(XlevalError, match="neither a cell reference nor a defined name"):
        xleval.compile(small_book(), ["NoSuchName"], ["Calc!A1"])
    with pytest.raises(XlevalError, match="no sheet named"):
        xleval.compile(small_book(), ["Nope!A1"], ["Calc!A1"])


def test_fixture_defaults_match_libreoffice():
    wb = xleval.load(QM)
    summary = wb.data.sheet("Summary").cached
    m = xleval.compile(QM, inputs=["Inputs!B6", "TaxRate"],
                       outputs=["Summary!B2", "Summary!B3"])
    assert m.input_cells == ["Inputs!B6", "Inputs!B5"]
    out = m({})
    assert math.isclose(out["Summary!B2"], summary[(2, 2)], rel_tol=1e-12)
    assert math.isclose(out["Summary!B3"], summary[(3, 2)], rel_tol=1e-12)


def test_fixture_scenarios_by_hand():
    """Net per quarter J = H - tax, H = revenue - fixed - 0.35*revenue, tax = 21% of H (every
    H is positive in the fixture, the smallest 561). Fixed cost +500 lowers each quarter's net
    by 500*(1-0.21) = 395, 12 quarters: -4740. A tax rate of 30% scales net by 0.70/0.79."""
    total_rev, total_net = (xleval.load(QM).data.sheet("Summary").cached[(r, 2)] for r in (2, 3))
    m = xleval.compile(QM, inputs=["Inputs!B6", "TaxRate"],
                       outputs=["Summary!B2", "Summary!B3"])
    out = m({"Inputs!B6": 15500})
    assert math.isclose(out["Summary!B3"], total_net - 4740, rel_tol=1e-9)
    assert math.isclose(out["Summary!B2"], total_rev, rel_tol=1e-12)
    out = m({"TaxRate": 0.30})
    assert math.isclose(out["Summary!B3"], total_net / 0.79 * 0.70, rel_tol=1e-9)
    out = m({"Inputs!B5": 0.30, "Inputs!B6": 15500})
    assert math.isclose(out["Summary!B3"], (total_net / 0.79 - 12 * 500) * 0.70, rel_tol=1e-9)


def test_cycle_with_iterative_calculation():
    """Loan: interest I = r*(B1 + C)/2, closing C = B1 + I - 500, so I = r*(2*B1 - 500)/(2 - r).
    B1 = 20000, r = 0.06: I = 2370/1.94 = 1221.6495, C = 20721.6495, ROUND -> 20721.65."""
    m = xleval.compile(FIX / "circular.xlsx", inputs=["Loan!B1"], outputs=["Loan!B5"])
    assert m({"Loan!B1": 20000})["Loan!B5"] == 20721.65


def test_dynamic_reference_keeps_whole_workbook():
    wb = xleval.Workbook.from_dict({"S": {
        "A1": 1, "A2": 2, "A3": 3, "C1": 2,
        "B1": '=INDIRECT("A"&C1)*10',           # reads A2 (C1 = 2) at run time
        "B2": "=SUM(OFFSET(A1,0,0,C1,1))",      # A1:A2
        "D1": "=A2+A3",                          # reachable only through INDIRECT
        "B3": '=INDIRECT("D1")',
    }})
    m = xleval.compile(wb, inputs=["S!A2"], outputs=["S!B1", "S!B2", "S!B3"])
    assert m.describe()["whole_workbook"] is True
    out = m({"S!A2": 5})
    assert out == {"S!B1": 50.0, "S!B2": 6.0, "S!B3": 8.0}
    m2 = xleval.Model.from_bytes(m.to_bytes())
    assert m2({"S!A2": 7}) == {"S!B1": 70.0, "S!B2": 8.0, "S!B3": 10.0}


def test_volatile_now_is_fixed_by_now():
    wb = xleval.Workbook.from_dict({"S": {"A1": 1, "B1": "=NOW()+A1", "B2": "=TODAY()*0+A1"}})
    m = xleval.compile(wb, inputs=["S!A1"], outputs=["S!B1", "S!B2"], now=45000.5)
    assert m({"S!A1": 2}) == {"S!B1": 45002.5, "S!B2": 2.0}


def test_defined_name_output_and_formula_input():
    wb = xleval.Workbook.from_dict({"S": {"A1": 3, "A2": "=A1*2", "A3": "=A2+1"}})
    wb.data.names.append(DefinedName("Result", "S!$A$3"))
    wb.engine.names[(None, "RESULT")] = wb.data.names[-1]
    # an input cell that holds a formula becomes a constant of the model
    m = xleval.compile(wb, inputs=["S!A2"], outputs=["Result"])
    assert m({}) == {"Result": 7.0}
    assert m({"S!A2": 10}) == {"Result": 11.0}
    assert m.describe()["formulas"] == 1


def test_save_load_roundtrip_and_corrupt_files(tmp_path, small_model):
    path = tmp_path / "small.model"
    small_model.save(path)
    assert sorted(os.listdir(tmp_path)) == ["small.model"]       # no temp file left
    m = xleval.load_model(path)
    assert m.input_cells == small_model.input_cells
    assert m.describe() == small_model.describe()
    assert m({"In!A1": 5})["Calc!A3"] == 62.0
    data = path.read_bytes()
    bad = tmp_path / "bad.model"
    for blob, why in [(b"PK\x03\x04 not a model", "bad header"),
                      (data[:len(data) // 2], "corrupt"),
                      (data.replace(b"\n1\n", b"\n99\n", 1), "version 99")]:
        bad.write_bytes(blob)
        with pytest.raises(XlevalError, match=why):
            xleval.load_model(bad)
    with pytest.raises(XlevalError, match="cannot read"):
        xleval.load_model(tmp_path / "missing.model")


def test_saved_fixture_model_needs_no_workbook(tmp_path):
    import shutil
    src = tmp_path / "book.xlsx"
    shutil.copy(QM, src)
    m = xleval.compile(src, inputs=["TaxRate"], outputs=["Summary!B3"])
    m.save(tmp_path / "q.model")
    src.unlink()
    total_net = xleval.load(QM).data.sheet("Summary").cached[(3, 2)]
    got = xleval.load_model(tmp_path / "q.model")({"TaxRate": 0.30})["Summary!B3"]
    assert math.isclose(got, total_net / 0.79 * 0.70, rel_tol=1e-9)


# ---------------------------------------------------------------------------------------
# batches
# ---------------------------------------------------------------------------------------

def _scenarios(n=24):
    # In!A1 = i, In!A3 = 1: A1 = 10*i, A2 = i + 3 + 1, A3 = 11*i + 4, A4 = 1/(i - 2)
    return pd.DataFrame({"In!A1": [float(i) for i in range(n)], "In!A3": [1.0] * n},
                        index=[f"s{i}" for i in range(n)])


def _check_batch(out, df):
    assert list(out.index) == list(df.index)
    assert list(out.columns) == ["Calc!A3", "Calc!A1", "Calc!A2", "Calc!A4", "Calc!B2"]
    for name, row in out.iterrows():
        i = float(name[1:])
        assert row["Calc!A3"] == 11 * i + 4 and row["Calc!A1"] == 10 * i
        assert row["Calc!A2"] == i + 4 and row["Calc!B2"] == 1001.0
        if i == 2:
            assert isinstance(row["Calc!A4"], XLError) and row["Calc!A4"].code == "#DIV/0!"
        else:
            assert math.isclose(row["Calc!A4"], 1 / (i - 2))


def _children():
    """Live child processes, except multiprocessing's resource tracker (one per interpreter,
    started by the first spawn, it exits with the interpreter)."""
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and \
                    "resource_tracker" not in " ".join(p.cmdline()):
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def test_batch_serial(small_model):
    df = _scenarios()
    out = small_model.run_batch(df, strategy="serial")
    _check_batch(out, df)
    assert small_model.last_batch["strategy"] == "serial"


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_batch_pool(small_model, method):
    if method not in mp.get_all_start_methods():
        pytest.skip(f"{method} not available")
    before = {p.pid for p in _children()}
    df = _scenarios()
    out = small_model.run_batch(df, strategy="pool", workers=2, start_method=method)
    _check_batch(out, df)
    assert small_model.last_batch["strategy"] == "pool"
    assert small_model.last_batch["start_method"] == method
    assert {p.pid for p in _children()} <= before            # no worker outlives the batch


def test_batch_auto_keeps_small_batches_inline(small_model):
    df = _scenarios(12)
    out = small_model.run_batch(df, strategy="auto", workers=2)
    _check_batch(out, df)
    assert small_model.last_batch["strategy"] == "serial"


def test_batch_missing_values_and_range_columns(small_model):
    # NaN keeps the workbook value (In!A1 = 2); a range column takes one list per row
    df = pd.DataFrame({"In!A1": [float("nan"), 1.0], "In!A1:A3": [None, [0, 0, 5]]})
    out = small_model.run_batch(df, strategy="serial")
    assert out["Calc!A3"].tolist() == [29.0, 5.0]    # 20 + 9 ; then A1 = 0: 0 + 5
    with pytest.raises(XlevalError, match="column 'In!B1' is not a model input"):
        small_model.run_batch(pd.DataFrame({"In!B1": [1]}), strategy="serial")
    with pytest.raises(XlevalError, match="unknown batch strategy"):
        small_model.run_batch(df, strategy="threads")


# a worker that dies (a Python function calling os._exit, a crash, the OOM killer) is a
# one-line ModelError naming its rows, at once: never a hang, and no process left behind.
# The batch runs in a child interpreter (timeout: a regression fails instead of hanging), whose
# module-level @xleval.function registration spawned workers get by importing it as __mp_main__
DEATH_SCRIPT = '''
import json, multiprocessing as mp, os, signal, sys, time
import pandas as pd
import psutil
import xleval

@xleval.function("DIEAT")
def dieat(x):
    if x == 13 and mp.parent_process() is not None:      # only in a worker
        if os.environ.get("HOW") == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        os._exit(1)
    return x

if __name__ == "__main__":
    wb = xleval.Workbook.from_dict({"S": {"A1": 1, "B1": "=DIEAT(A1)*2"}})
    m = xleval.compile(wb, inputs=["S!A1"], outputs=["S!B1"])
    df = pd.DataFrame({"S!A1": [float(i) for i in range(40)]})
    got = {}
    t0 = time.perf_counter()
    try:
        m.run_batch(df, strategy="pool", workers=2, start_method=sys.argv[1])
    except xleval.model.ModelError as e:
        got["error"] = str(e)
    got["seconds"] = time.perf_counter() - t0
    got["active"] = len(mp.active_children())
    got["children"] = [p.pid for p in psutil.Process().children(recursive=True)
                       if p.status() != psutil.STATUS_ZOMBIE and not any(
                           k in " ".join(p.cmdline()) for k in ("resource_tracker", "forkserver"))]
    # the model is still fine, and so is a pool after the failure
    out = m.run_batch(df.drop(index=13), strategy="pool", workers=2, start_method=sys.argv[1])
    got["again"] = out["S!B1"].tolist()
    print(json.dumps(got))
'''


@pytest.mark.parametrize("method,how", [("fork", "exit"), ("spawn", "exit"),
                                        ("forkserver", "kill")])
def test_batch_pool_worker_death_is_an_error(tmp_path, method, how):
    import json
    import subprocess
    import sys
    if method not in mp.get_all_start_methods():
        pytest.skip(f"{method} not available")
    script = tmp_path / "death.py"
    script.write_text(DEATH_SCRIPT)
    env = dict(os.environ, HOW=how)
    env.pop("XLEVAL_START_METHOD", None)
    proc = subprocess.Popen([sys.executable, str(script), method], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)                 # the hang: its workers too
        proc.communicate()
        pytest.fail(f"run_batch hung after a worker died ({method})")
    assert proc.returncode == 0, stderr[-2000:]
    got = json.loads(stdout.strip().splitlines()[-1])
    code = "exit code 1" if how == "exit" else "killed by SIGKILL"
    # 40 rows, 2 workers: chunks of 5 rows, row 13 is in rows 10-14
    assert got["error"].startswith(f"run_batch: a worker process died ({code}) while "
                                   f"evaluating rows 10-14 ")
    assert "\n" not in got["error"]
    assert got["seconds"] < 30
    assert got["active"] == 0 and got["children"] == []
    assert got["again"] == [2.0 * i for i in range(40) if i != 13]


@pytest.mark.timeout(60)
def test_batch_pool_errors_in_process(small_model, tmp_path):
    if "fork" not in mp.get_all_start_methods():
        pytest.skip("fork not available")
    before = {p.pid for p in _children()}

    @xleval.function("XLEVAL_TEST_EXIT")
    def _exit_in_worker(x):
        if x == 5 and mp.parent_process() is not None:
            os._exit(7)
        return x

    try:
        wb = xleval.Workbook.from_dict({"S": {"A1": 1, "B1": "=XLEVAL_TEST_EXIT(A1)+1"}})
        m = xleval.compile(wb, inputs=["S!A1"], outputs=["S!B1"])
        df = pd.DataFrame({"S!A1": [float(i) for i in range(16)]})
        with pytest.raises(XlevalError, match=r"died \(exit code 7\) while evaluating rows 4-5 "):
            m.run_batch(df, strategy="pool", workers=2, start_method="fork")
    finally:
        xleval.functions.custom.unregister("XLEVAL_TEST_EXIT")
    assert mp.active_children() == []
    assert {p.pid for p in _children()} <= before
    # an exception raised in a worker is raised here (a row with a bad range value)
    df = pd.DataFrame({"In!A1:A3": [[1, 2, 3]] * 5 + [[1, 2]] + [[1, 2, 3]] * 5})
    with pytest.raises(XlevalError, match="a range input of 3 cells needs a list of 3"):
        small_model.run_batch(df, strategy="pool", workers=2, start_method="fork")
    assert mp.active_children() == []
    assert {p.pid for p in _children()} <= before


def test_save_to_a_folder_is_one_line_error(tmp_path, small_model):
    (tmp_path / "dir.model").mkdir()
    for target in (tmp_path, tmp_path / "dir.model"):
        with pytest.raises(XlevalError, match="is a directory") as e:
            small_model.save(target)
        assert "\n" not in str(e.value)
    assert sorted(os.listdir(tmp_path)) == ["dir.model"]       # no temp file left
    assert os.listdir(tmp_path / "dir.model") == []
