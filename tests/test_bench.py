"""`xleval bench`, the benchmark workbook generator and `benchmarks/run.py` (tiny sizes;
no assertions on timings)."""
import builtins
import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest

import xleval
from xleval.bench import bench, format_table, plot
from xleval.errors import XlevalError

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "workbooks"


def _module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


generate = _module("xleval_bench_generate", ROOT / "benchmarks" / "generate.py")


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "XLEVAL_START_METHOD": "fork"}


# ----------------------------------------------------------------------------------------
# bench()
# ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def quarterly():
    return bench(str(FIXTURES / "quarterly_model.xlsx"), workers=(2,), repeat=1)


def test_json_shape_is_stable(quarterly):
    d = quarterly
    assert set(d) >= {"workbook", "cpu_count", "results", "auto_choices"}
    assert isinstance(d["workbook"], str) and isinstance(d["cpu_count"], int)
    for r in d["results"]:
        assert set(r) == {"sheet", "strategy", "workers", "seconds", "cells"}
        assert isinstance(r["sheet"], str) and isinstance(r["seconds"], float)
        assert isinstance(r["workers"], int) and isinstance(r["cells"], int)
        assert r["seconds"] >= 0
    whole = [(r["strategy"], r["workers"]) for r in d["results"] if r["sheet"] == "*"]
    assert whole == [("serial", 1), ("pool", 2), ("process", 2), ("auto", 2)]
    json.dumps(d)                                    # plain data throughout


def test_per_sheet_rows_and_cells(quarterly):
    wb = xleval.load(FIXTURES / "quarterly_model.xlsx")
    counts = {s.name: len(s.formulas) for s in wb.data.sheets if s.formulas}
    sheets = {r["sheet"]: r["cells"] for r in quarterly["results"] if r["sheet"] != "*"}
    assert sheets == counts
    assert {r["cells"] for r in quarterly["results"] if r["sheet"] == "*"} == \
        {sum(counts.values())}


def test_auto_choices_recorded(quarterly):
    ch = quarterly["auto_choices"]
    assert ch and {c["sheet"] for c in ch} >= {"*"}
    for c in ch:
        assert c["workers"] == 2
        assert sum(v["cells"] for v in c["summary"].values()) > 0
        assert isinstance(c["layers"], list)


def test_table_lists_every_strategy(quarterly):
    text = format_table(quarterly)
    for word in ("serial", "pool", "process", "auto", "speedup", "dispatch", "Model"):
        assert word in text


def test_bad_arguments():
    with pytest.raises(XlevalError, match="strateg"):
        bench(str(FIXTURES / "chain.xlsx"), strategies=("serial", "threads"), repeat=1)
    with pytest.raises(XlevalError, match="repeat"):
        bench(str(FIXTURES / "chain.xlsx"), repeat=0)


def test_plot_writes_png(quarterly, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "chart.png"
    plot(quarterly, str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_is_one_clear_error(quarterly, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *a, **kw):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *a, **kw)
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(XlevalError, match="matplotlib") as e:
        plot(quarterly, str(tmp_path / "x.png"))
    assert "\n" not in str(e.value)
    assert not (tmp_path / "x.png").exists()


def test_cli_bench_json(tmp_path):
    out = tmp_path / "b.json"
    proc = subprocess.run([sys.executable, "-m", "xleval", "bench", str(FIXTURES / "chain.xlsx"),
                           "--strategies", "serial,auto", "--workers", "2", "--repeat", "1",
                           "--json", str(out)], env=_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert [r["strategy"] for r in data["results"]] == ["serial", "auto"]
    assert "auto" in proc.stdout


def test_cli_bench_bad_workers():
    proc = subprocess.run([sys.executable, "-m", "xleval", "bench", str(FIXTURES / "chain.xlsx"),
                           "--workers", "two"], env=_env(), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--workers" in proc.stderr


# ----------------------------------------------------------------------------------------
# the generator
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", sorted(generate.SHAPES))
def test_generated_workbooks_calculate_cleanly(shape, tmp_path):
    out = tmp_path / f"{shape}.xlsx"
    rows = {"finance": 12, "sheets": 120}.get(shape, 60)
    n = generate.generate(shape, rows, str(out))
    wb = xleval.load(out)
    rep = wb.calculate(strategy="serial")
    assert rep.formulas == n > 0
    assert rep.errors == {} and rep.parse_errors == [] and rep.unsupported == {}
    assert rep.cycles == []
    if shape == "hetero":
        assert rep.shapes == rep.formulas          # no two cells share a shape
        assert len(wb.plan.layers) == 5
    if shape == "chain":
        assert len(wb.plan.layers) >= rows
    if shape == "sheets":
        assert len(wb.sheet_names) == rows // 40 + 1


def test_generator_is_deterministic(tmp_path):
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    generate.generate("lookup", 50, str(a))
    generate.generate("lookup", 50, str(b))
    import zipfile
    za, zb = zipfile.ZipFile(a), zipfile.ZipFile(b)
    assert za.namelist() == zb.namelist()
    assert all(za.read(n) == zb.read(n) for n in za.namelist())


def test_generator_cli(tmp_path):
    out = tmp_path / "w.xlsx"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate.py"), "wide",
                           "--rows", "30", "-o", str(out)], env=_env(), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert out.exists() and "formulas" in proc.stdout


def _run_py(tmp_path, *extra):
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--scale", "0.002",
                           "--workers", "2", "--repeat", "1", "--out", str(out),
                           "--generated", str(tmp_path / "gen"), *extra],
                          env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out.read_text()


def test_run_py_writes_results(tmp_path):
    """benchmarks/run.py on one tiny workbook, into a temporary folder."""
    text = _run_py(tmp_path, "--shapes", "hetero", "--no-e2e")
    for needle in ("# Benchmark results", "CPUs", "Python", "load average", "| hetero |",
                   "Target: 100,000 heterogeneous", "evaluation stage: serial"):
        assert needle in text


@pytest.mark.slow
def test_run_py_all_shapes_with_end_to_end(tmp_path):
    text = _run_py(tmp_path)
    for shape in generate.SHAPES:
        assert f"| {shape} |" in text
    assert "End-to-end" in text and "end-to-end `xleval calc -o`" in text
