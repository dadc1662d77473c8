"""benchmarks/peers.py (`make bench-peers`): a real run on a tiny generated workbook with
the peers installed here, the structure of its JSON and RESULTS.md section, and the value
comparison (a deliberately wrong value is flagged)."""
from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import peers  # noqa: E402

OTHER = "# Benchmark results\n\nintro\n\n## Summary\n\nkept as it is\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One real run: hetero at 30 rows, every installed engine (formulas included)."""
    tmp = tmp_path_factory.mktemp("peers")
    out_md, out_json = tmp / "RESULTS.md", tmp / "peers.json"
    out_md.write_text(OTHER + f"\n{peers.SECTION}\n\nold text\n\n## Later\n\nalso kept\n")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "peers.py"), "--rows", "30",
         "--shapes", "hetero", "--formulas-rows", "30", "--formulas-shapes", "hetero",
         "--out", str(out_md), "--json", str(out_json), "--generated", str(tmp / "gen"),
         "--timeout", "120", "--formulas-timeout", "240"],
        capture_output=True, text=True, timeout=600, cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out_json.read_text()), out_md.read_text(), tmp


def test_json_structure_and_peers_agree(run):
    data, _, _ = run
    meta = data["meta"]
    for key in ("date", "platform", "cpus", "python", "versions", "load_start", "load_end"):
        assert meta[key] is not None, key
    runs = {r["engine"]: r for r in data["runs"]}
    assert set(runs) == set(peers.ENGINES)       # every engine has a row, installed or not
    ran = [e for e in peers.ENGINES if peers.available(e)]
    assert "xleval" in ran
    for name, r in runs.items():
        assert (r["shape"], r["rows"], r["formulas"]) == ("hetero", 30, 150)   # 30 rows x 5
        if name not in ran:
            assert r["status"] == "not installed" and r["seconds"] is None
            continue
        assert r["status"] == "ok", (name, r["error"])
        assert r["seconds"] > 0 and r["maxrss_kb"] > 1000
        assert r["rss_per_formula"] == pytest.approx(r["maxrss_kb"] * 1024 / 150, abs=0.1)
        if name != "xleval":
            # independent engines agree with xleval on every formula cell
            assert r["mismatches"] == 0, r["examples"]
    (s,) = data["summary"]
    rust = [runs[p]["seconds"] for p in peers.RUST_PEERS if p in ran]
    if rust:
        # the JSON rounds the ratio to 3 decimals (and the seconds it comes from to 1 ms)
        assert s["xleval_vs_best_rust"] == pytest.approx(runs["xleval"]["seconds"] / min(rust),
                                                         rel=1e-2, abs=6e-4)
    if "formulas" in ran:
        assert s["formulas_vs_xleval"] == pytest.approx(
            runs["formulas"]["seconds"] / runs["xleval"]["seconds"], rel=1e-2, abs=0.051)


def test_results_section_replaced_others_kept(run):
    data, md, _ = run
    assert md.startswith(OTHER)                  # sections before it untouched
    assert md.rstrip().endswith("## Later\n\nalso kept")
    assert md.count(peers.SECTION) == 1 and "old text" not in md
    section = md[md.index(peers.SECTION):md.index("## Later")]
    assert "### 30 rows" in section and "### xleval: time per formula" in section
    header = next(line for line in section.splitlines() if line.startswith("| shape |"))
    assert "xleval / best Rust" in header and "formulas / xleval" in header
    row = next(line for line in section.splitlines() if line.startswith("| hetero | 150 |"))
    assert len(row.split("|")) == len(header.split("|"))
    # writing the section again (--from-json) replaces it instead of adding a second one
    tmp = run[2]
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "peers.py"), "--from-json",
                           str(tmp / "peers.json"), "--out", str(tmp / "RESULTS.md")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (tmp / "RESULTS.md").read_text() == md


def _with_value(src: pathlib.Path, dst: pathlib.Path, ref: str, value: str) -> None:
    """Copy an .xlsx, replacing the cached value of cell `ref` on the first sheet."""
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w") as zo:
        for info in zi.infolist():
            data = zi.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                text, n = re.subn(rf'(<c r="{ref}"[^>]*>.*?<v>)[^<]*(</v>)',
                                  rf"\g<1>{value}\g<2>", data.decode(), count=1)
                assert n == 1
                data = text.encode()
            zo.writestr(info, data)


def test_wrong_value_is_flagged(tmp_path):
    book = peers.prepare("hetero", 10, tmp_path / "gen")
    cells = peers.formula_cells(str(book))
    assert len(cells) == 50 and ("MODEL", "C2") in cells     # 10 rows x 5 formula columns
    out = tmp_path / "x.xlsx"
    status, seconds, rss, error, stages = peers.run_engine("xleval", book, out, timeout=120)
    assert status == "ok", error
    reference = peers.read_values(str(out))
    assert peers.compare(cells, reference, reference) == (0, [])
    # C2 = A2*k1+SIN(B2)*k2 is a number; make it a wrong one
    bad = tmp_path / "bad.xlsx"
    _with_value(out, bad, "C2", "12345.5")
    count, examples = peers.compare(cells, reference, peers.read_values(str(bad)))
    assert count == 1
    assert examples[0]["cell"] == "MODEL!C2" and examples[0]["engine"] == 12345.5


def test_same_rules():
    assert peers.same(1.0, 1.0 + 1e-12) and not peers.same(1.0, 1.0001)
    assert peers.same(0.0, 1e-13)                       # cancellation noise around zero
    assert peers.same(None, "") and not peers.same(None, 0.0)
    assert not peers.same(True, 1.0) and not peers.same("1", 1.0)
    assert peers.same(peers.Err("#DIV/0!"), peers.Err("#DIV/0!"))
    assert not peers.same(peers.Err("#DIV/0!"), peers.Err("#N/A"))
    assert not peers.same(float("nan"), float("nan"))


def test_bad_arguments_one_line_errors():
    for args, msg in ((["--shapes", "nope"], "unknown shape 'nope'"),
                      (["--rows", "ten"], "--rows"),
                      (["--engines", "ironcalc"], "must include xleval")):
        proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "peers.py"), *args],
                              capture_output=True, text=True)
        assert proc.returncode != 0 and msg in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
