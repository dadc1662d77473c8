"""The command line as a user runs it: real processes, real files."""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIX = ROOT / "fixtures" / "workbooks"


def run(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("XLEVAL_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "xleval", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=env)


def test_calc_writes_workbook_and_prints_summary(tmp_path):
    out = tmp_path / "model.xlsx"
    p = run("calc", FIX / "quarterly_model.xlsx", "-o", out)
    assert p.returncode == 0, p.stderr
    assert "formulas" in p.stdout and "errors" in p.stdout and "time" in p.stdout
    # the plan's layers, counted before the compiled formulas are freed for the write
    import xleval
    ref = xleval.load(str(FIX / "quarterly_model.xlsx"))
    ref.calculate()
    assert f", {len(ref.plan.layers)} layers" in p.stdout and len(ref.plan.layers) > 1
    assert out.is_file()
    # the written cached values are read back by an independent reader (openpyxl)
    import openpyxl
    wb = openpyxl.load_workbook(out, data_only=True)
    assert wb["Model"]["D2"].value == 1200
    assert wb["Summary"]["B8"].value == 0     # COUNTIF of "<0" over positive nets
    formulas = openpyxl.load_workbook(out)
    assert formulas["Model"]["F2"].value == "=D2*E2"


def test_calc_cells_and_formats(tmp_path):
    p = run("calc", FIX / "chain.xlsx", "--cells", "Chain!D3,Chain!A1:A2")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert lines[0] == "Chain!D3\t2000"
    assert lines[1] == "Chain!A1:A2\t1"
    js = tmp_path / "v.json"
    assert run("calc", FIX / "circular.xlsx", "-o", js).returncode == 0
    data = json.loads(js.read_text())
    assert data["sheets"]["Loan"]["B1"] == 10000
    csv = tmp_path / "v.csv"
    assert run("calc", FIX / "circular.xlsx", "-o", csv, "--sheet", "Loan").returncode == 0
    assert csv.read_text().splitlines()[0].startswith("Opening,10000")


def test_refuses_to_overwrite_input_without_in_place(tmp_path):
    src = tmp_path / "c.xlsx"
    shutil.copy(FIX / "circular.xlsx", src)
    before = src.read_bytes()
    p = run("calc", src, "-o", src)
    assert p.returncode == 2 and "--in-place" in p.stderr
    assert src.read_bytes() == before
    assert run("calc", src, "--in-place", "-q").returncode == 0


def test_bad_destination_fails_before_loading(tmp_path):
    """A typo in -o or --report must not cost the calculation: the destination is checked
    first. The input here is not even a workbook: the output's error comes first."""
    junk = tmp_path / "junk.xlsx"
    junk.write_text("not a workbook\n")
    missing = tmp_path / "no" / "such"
    cases = [
        (["-o", missing / "out.xlsx"], f"no such folder {missing}"),
        (["-o", tmp_path / "out.xlsx", "--report", missing / "r.json"],
         f"no such folder {missing}"),
        (["-o", tmp_path / "out.txt"], "must end in .xlsx or .xlsm"),
        (["-o", tmp_path / "out.xlsx", "--in-place"], "exclude each other"),
    ]
    (tmp_path / "adir.csv").mkdir()
    cases.append((["-o", tmp_path / "adir.csv"], "is a directory"))
    for extra, msg in cases:
        p = run("calc", junk, *extra)
        assert p.returncode == 2, (extra, p.stderr)
        assert p.stderr.count("\n") == 1 and msg in p.stderr, (extra, p.stderr)
        assert "not a zip" not in p.stderr
    for opt in ("--json", "--plot"):               # bench: before its runs too
        p = run("bench", junk, opt, missing / "b.out")
        assert p.returncode == 2 and f"no such folder {missing}" in p.stderr, p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["adir.csv", "junk.xlsx"]


def test_bad_sheet_or_cells_fail_without_output(tmp_path):
    out = tmp_path / "v.csv"
    for extra, msg in ((["--sheet", "Nope", "-o", out], "no sheet named 'Nope'"),
                       (["--cells", "Chain!D3,Nope!A1", "-o", out], "no sheet named 'Nope'"),
                       (["--cells", "Chain!D3:", "-o", out], "not a cell reference")):
        p = run("calc", FIX / "chain.xlsx", *extra)
        assert p.returncode == 2 and p.stderr.count("\n") == 1 and msg in p.stderr, p.stderr
        assert p.stdout == "" and not out.exists()


def _bad_inputs(tmp: pathlib.Path):
    (tmp / "empty.xlsx").write_bytes(b"")
    (tmp / "text.xlsx").write_text("just some text\n")
    good = (FIX / "circular.xlsx").read_bytes()
    (tmp / "truncated.xlsx").write_bytes(good[: len(good) // 2])
    with zipfile.ZipFile(tmp / "notabook.xlsx", "w") as z:
        z.writestr("hello.txt", "hi")
    ole = bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 504
    (tmp / "legacy.xls").write_bytes(ole + b"Workbook".ljust(64, b"\0"))
    (tmp / "locked.xlsx").write_bytes(ole + "EncryptedPackage".encode("utf-16-le"))
    with zipfile.ZipFile(tmp / "badxml.xlsx", "w") as z:
        with zipfile.ZipFile(FIX / "circular.xlsx") as src:
            for info in src.infolist():
                data = src.read(info)
                if info.filename.startswith("xl/worksheets/sheet"):
                    data = data[: len(data) // 2]
                z.writestr(info, data)
    (tmp / "adir.xlsx").mkdir()
    return {
        "missing.xlsx": "no such file", "adir.xlsx": "directory", "empty.xlsx": "empty",
        "text.xlsx": "not a zip", "truncated.xlsx": "", "notabook.xlsx": "not an Excel",
        "legacy.xls": "legacy", "locked.xlsx": "password", "badxml.xlsx": "",
    }


def test_bad_input_one_line_no_traceback_no_output(tmp_path):
    cases = _bad_inputs(tmp_path)
    for name, words in cases.items():
        out = tmp_path / ("out_" + name.replace(".xls", ".xlsx").replace(".xlsxx", ".xlsx"))
        p = run("calc", tmp_path / name, "-o", out)
        assert p.returncode == 2, (name, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1, (name, p.stderr)
        assert "Traceback" not in p.stderr
        assert name in lines[0]
        assert words.lower() in lines[0].lower(), (name, lines[0])
        assert not out.exists()
    assert not [f for f in os.listdir(tmp_path) if f.startswith("out_") or ".tmp" in f]


def test_graph_command(tmp_path):
    p = run("graph", FIX / "chain.xlsx", "--json")
    assert p.returncode == 0, p.stderr
    stats = json.loads(p.stdout)
    assert stats["formulas"] == 2003
    assert stats["sheets"]["Chain"]["longest_chain"] >= 2000
    dot = tmp_path / "g.dot"
    p = run("graph", FIX / "quarterly_model.xlsx", "--dot", dot)
    assert p.returncode == 0 and dot.read_text().startswith("digraph")
    assert "cycles" in run("graph", FIX / "circular.xlsx").stdout


def test_check_command_reports_agreement(tmp_path):
    js = tmp_path / "check.json"
    p = run("check", FIX / "quarterly_model.xlsx", "--json", js)
    assert p.returncode == 0, p.stdout + p.stderr
    data = json.loads(js.read_text())
    assert data["compared"] > 100 and data["matched"] == data["compared"]
    names = {row["function"] for row in data["coverage"]}
    assert {"VLOOKUP", "SUMIFS", "TEXT"} <= names


def test_functions_command_lists_coverage():
    p = run("functions", "--json")
    assert p.returncode == 0
    rows = json.loads(p.stdout)
    by = {r["name"]: r for r in rows}
    assert by["SUM"]["source"] == "native"
    assert by["XLOOKUP"]["source"] == "native"
    assert by["CUBEVALUE"]["source"] == "missing"
    assert len(rows) > 450


def test_now_pins_today(tmp_path):
    import openpyxl
    src = tmp_path / "t.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "=TODAY()"
    wb.active["A2"] = "=YEAR(NOW())"
    wb.save(src)
    p = run("calc", src, "--now", "2024-02-29T10:00", "--cells", "Sheet!A1,Sheet!A2")
    assert p.returncode == 0, p.stderr
    assert "45351" in p.stdout and "2024" in p.stdout     # 2024-02-29 is serial 45351


def test_entry_sets_one_blas_thread_before_numpy_loads():
    """numpy's OpenBLAS spins a thread per further core as it loads (benchmarks/RESULTS.md,
    Session 13): the console entry asks for one before numpy is imported, unless the user
    chose."""
    code = ("import os, sys, xleval.cli as c; "
            "c.main = lambda: print(os.environ.get('OPENBLAS_NUM_THREADS'), "
            "'numpy' in sys.modules) or 0; c.entry()")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("OPENBLAS_NUM_THREADS", None)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert p.returncode == 0 and p.stdout.split() == ["1", "False"], p.stderr
    env["OPENBLAS_NUM_THREADS"] = "4"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert p.stdout.split() == ["4", "False"], p.stderr


def test_no_destination_over_an_input_or_another_destination(tmp_path):
    """A report, a graph or a benchmark file named like the workbook would replace it."""
    src = tmp_path / "q.xlsx"
    shutil.copy(FIX / "quarterly_model.xlsx", src)
    before = src.read_bytes()
    out = tmp_path / "o.xlsx"
    for args, msg in ((["graph", src, "--dot", src], "refusing to write --dot over an input"),
                      (["check", src, "--json", src], "refusing to write --json over"),
                      (["bench", src, "--json", src, "--repeat", "1", "--workers", "1"],
                       "refusing to write --json over"),
                      (["calc", src, "--report", src], "refusing to write --report over"),
                      (["calc", src, "-o", out, "--report", out], "given to both -o"),
                      (["calc", src, "-o", ""], "-o: no file named"),
                      (["graph", src, "--dot", ""], "--dot: no file named"),
                      (["calc", src, src, "--format", "csv"], "name the output with -o")):
        p = run(*args)
        assert p.returncode == 2 and p.stderr.count("\n") == 1 and msg in p.stderr, \
            (args, p.stderr)
    assert src.read_bytes() == before and not out.exists()
    odd = tmp_path / "book.bin"                     # several inputs: outputs keep the names
    shutil.copy(FIX / "chain.xlsx", odd)
    p = run("calc", odd, src, "-o", tmp_path / "outd")
    assert p.returncode == 2 and "its output would be named book.bin" in p.stderr, p.stderr
    assert not (tmp_path / "outd").exists()


def test_bad_numbers_and_addresses_are_one_line(tmp_path):
    import socket
    src = FIX / "quarterly_model.xlsx"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cases = [(["serve", "--port", str(port)], "cannot listen there"),
                 (["serve", "--max-upload-mb", "inf"], "expected a finite number"),
                 (["serve", "--timeout", "nan"], "expected a finite number"),
                 (["serve", "--workers", "100000"], "from 1 to 256"),
                 # (forked that many pool workers: a hang, and a machine out of processes)
                 (["calc", src, "--strategy", "pool", "--workers", "100000"],
                  "--workers: from 1 to 256, not 100000"),
                 (["bench", src, "--workers", "1,257"], "at most 256"),
                 (["check", src, "--limit", "-1"], "expected 0 or more"),
                 (["links", src, "--links-dir", tmp_path / "nope"], "no such folder"),
                 (["bench", src, "--workers", ""], "name at least one"),
                 (["calc", src, "--links", "update", "--link-timeout", "inf"],
                  "seconds > 0")]
        for args, msg in cases:
            p = run(*args)
            assert p.returncode == 2 and p.stderr.count("\n") == 1 and msg in p.stderr, \
                (args, p.stderr)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XLEVAL_DASK_CONNECT_TIMEOUT": "x"}
    p = subprocess.run([sys.executable, "-m", "xleval", "calc", str(src), "--executor", "dask",
                        "--scheduler", "127.0.0.1:9"], capture_output=True, text=True,
                       timeout=120, env=env)
    assert p.returncode == 2 and "XLEVAL_DASK_CONNECT_TIMEOUT: expected seconds" in p.stderr, \
        p.stderr


def test_several_inputs_whole_run_errors_once_and_no_empty_folder(tmp_path):
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    shutil.copy(FIX / "chain.xlsx", a)
    shutil.copy(FIX / "circular.xlsx", b)
    outd = tmp_path / "outd"
    for extra, msg in ((["--workers", "0"], "--workers: from 1 to 256, not 0"),
                       (["--link-timeout", "-1"], "seconds > 0"),
                       (["--report", tmp_path / "no" / "r.json"], "no such folder")):
        p = run("calc", a, b, "-o", outd, *extra)
        assert p.returncode == 2 and p.stderr.count("\n") == 1 and msg in p.stderr, p.stderr
        assert not outd.exists()

