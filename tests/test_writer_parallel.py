"""Large sheets patched by forked processes when saving (issue 7).

The parallel writer must write exactly what the serial one writes: every test compares the
decompressed zip members of a workers=1 and a workers=2 save. The threshold and the piece
size are lowered through the module constants so that small workbooks run the real parallel
path (real forked processes; the counters in PARALLEL_STATS show it ran). Expected cell values
are checked independently with lxml against the values the test put in."""
from __future__ import annotations

import contextlib
import glob
import math
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import zipfile
import zlib

import psutil
import pytest
from lxml import etree

from xleval.values import DIV0, NA
from xleval.writer import write_values
from xleval.scheduler.base import running_others
from xleval.writer import xlsx as W

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
CONF = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "conformance", "workbooks")
N_ROWS = 900


# ---------------------------------------------------------------------------------------
# a workbook built for the test
# ---------------------------------------------------------------------------------------

def _sheet_xml(n: int, irregular: bool = False) -> bytes:
    """Rows 1..n except every 50th (missing rows); A constant, B formula with a stale
    number, C formula with a t="s" cached shared string, D a self-closing styled cell, E a
    formula without a cached value. Column F is never in the XML."""
    out = []
    for r in range(1, n + 1):
        if r % 50 == 0:
            continue
        a = f'<c r="A{r}"><v>{r}</v></c>'
        if irregular and r == 401:             # a cell whose r= names a later row
            a = f'<c r="A{r + 300}"><v>{r}</v></c>'
        out.append(f'<row r="{r}" spans="1:5">{a}'
                   f'<c r="B{r}"><f>A{r}*2</f><v>7</v></c>'
                   f'<c r="C{r}" t="s"><f>"x"&amp;A{r}</f><v>0</v></c>'
                   f'<c r="D{r}" s="1"/>'
                   f'<c r="E{r}"><f>A{r}/3</f></c></row>')
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{NS}">'
            f'<dimension ref="A1:E{n}"/><sheetData>{"".join(out)}</sheetData>'
            f'<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
            f'footer="0.3"/></worksheet>').encode()


def _make_book(path: str, irregular: bool = False) -> None:
    rels = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
                   'openxmlformats.org/package/2006/content-types"><Default Extension="rels" '
                   'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   '<Default Extension="xml" ContentType="application/xml"/><Override '
                   'PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
                   'officedocument.spreadsheetml.sheet.main+xml"/></Types>')
        z.writestr("_rels/.rels",
                   '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
                   'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
                   f'Type="{rels}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml",
                   f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{NS}" '
                   f'xmlns:r="{rels}"><sheets><sheet name="Big" sheetId="1" r:id="rId1"/>'
                   '<sheet name="Small" sheetId="2" r:id="rId2"/><sheet name="Big2" sheetId="3"'
                   ' r:id="rId3"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels",
                   '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
                   'openxmlformats.org/package/2006/relationships">'
                   + "".join(f'<Relationship Id="rId{i}" Type="{rels}/worksheet" '
                             f'Target="worksheets/sheet{i}.xml"/>' for i in (1, 2, 3))
                   + "</Relationships>")
        z.writestr("xl/worksheets/sheet1.xml", _sheet_xml(N_ROWS, irregular))
        z.writestr("xl/worksheets/sheet2.xml", _sheet_xml(20))
        z.writestr("xl/worksheets/sheet3.xml", _sheet_xml(N_ROWS // 2))


def _targets(n: int) -> dict:
    """Targets of every kind: floats (integral and not), strings to escape, booleans,
    errors, NaN/inf, blanks, cells missing from the XML (column F, the missing rows) and
    rows after the last row."""
    t = {}
    for r in range(1, n + 1):
        t[(r, 2)] = r * 2.0 if r % 7 else r / 3
        k = r % 9
        t[(r, 3)] = ("x&<" + str(r), True, False, NA, DIV0, math.nan, math.inf, None,
                     " pad ")[k]
        t[(r, 5)] = r / 3 if r % 11 else -0.0
        if r % 13 == 0:
            t[(r, 6)] = f"new {r}"              # column F: no cell in the XML
    for r in range(n + 3, n + 6):               # rows after the last row
        t[(r, 2)] = float(r)
    return t


def _members(path: str) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _cell_values(xml: bytes) -> dict[str, tuple]:
    out = {}
    for c in etree.fromstring(xml).iter(f"{{{NS}}}c"):
        v = c.find(f"{{{NS}}}v")
        t = c.find(f"{{{NS}}}is/{{{NS}}}t")
        out[c.get("r")] = (c.get("t"), v.text if v is not None else None,
                           t.text if t is not None else None)
    return out


@pytest.fixture(autouse=True)
def whatever_the_load(monkeypatch):
    """The pool runs even when other processes keep the cores busy."""
    monkeypatch.setattr(W, "_CHECK_LOAD", False)


@pytest.fixture
def small_pieces(monkeypatch):
    """Parallel from 1,000 targets, pieces of 8 KB (so a test sheet has dozens)."""
    monkeypatch.setattr(W, "_PARALLEL_MIN_CELLS", 1000)
    monkeypatch.setattr(W, "_CHUNK", 8 << 10)


def _save_both(src: str, tmp_path, values: dict) -> tuple[dict, dict, dict]:
    """(serial members, parallel members, PARALLEL_STATS deltas) of saving `values`."""
    before = dict(W.PARALLEL_STATS)
    write_values(src, str(tmp_path / "w1.xlsx"), values, workers=1)
    mid = dict(W.PARALLEL_STATS)
    assert mid == before                         # workers=1: no pool
    write_values(src, str(tmp_path / "w2.xlsx"), values, workers=2)
    delta = {k: W.PARALLEL_STATS[k] - before[k] for k in before}
    return _members(str(tmp_path / "w1.xlsx")), _members(str(tmp_path / "w2.xlsx")), delta


def _children() -> set[int]:
    """Live child processes (a forkserver or resource tracker of earlier tests may exist)."""
    out = set()
    for p in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if p.status() != psutil.STATUS_ZOMBIE:
                out.add(p.pid)
    return out



# ---------------------------------------------------------------------------------------
# (1) identical output
# ---------------------------------------------------------------------------------------

def test_parallel_output_identical_on_every_kind_of_value(tmp_path, small_pieces, monkeypatch):
    src = str(tmp_path / "book.xlsx")
    _make_book(src)
    values = {"Big": _targets(N_ROWS), "Small": _targets(20), "Big2": _targets(N_ROWS // 2)}
    monkeypatch.setattr(W, "_SPOOL", 64 << 10)  # the patched rows spill to a temporary file
    children = _children()
    serial, parallel, delta = _save_both(src, tmp_path, values)
    assert list(serial) == list(parallel)
    for name in serial:
        assert serial[name] == parallel[name], name
    assert delta["pools"] == 1                  # one pool for both large sheets
    # the first 3 pieces go to the 2 workers; later ones too, or, when both workers are
    # busy with one queued, the parent patches the piece instead of waiting
    assert delta["pieces"] >= 3 and delta["pieces"] + delta["local"] >= 30
    assert delta["fallbacks"] == 0
    # the workers compressed their pieces, appended to the member as they are: the
    # decompressed members above are equal and every member's CRC-32 checks
    assert delta["deflated"] >= 3
    with zipfile.ZipFile(tmp_path / "w2.xlsx") as z:
        assert z.testzip() is None
    assert not _children() - children

    # the values themselves, read back with lxml against what was put in
    cells = _cell_values(parallel["xl/worksheets/sheet1.xml"])
    assert cells["B7"] == (None, str(7 / 3), None)
    assert cells["B8"] == (None, "16", None)
    assert cells["C9"] == ("str", "x&<9", None)         # k=0, the formula keeps t="str"
    assert cells["C10"] == ("b", "1", None)
    assert cells["C11"] == ("b", "0", None)
    assert cells["C12"] == ("e", "#N/A", None)
    assert cells["C13"] == ("e", "#DIV/0!", None)
    assert cells["C14"] == ("e", "#NUM!", None)         # NaN
    assert cells["C15"] == ("e", "#NUM!", None)         # inf
    assert cells["C16"] == ("str", None, None)          # blank formula result: <v></v>
    assert cells["E11"] == (None, "0", None)            # -0.0
    assert cells["F13"] == ("inlineStr", None, "new 13")  # inserted cell
    assert cells["B50"] == (None, "100", None)          # row 50 is not in the XML
    assert cells[f"B{N_ROWS + 4}"] == (None, str(N_ROWS + 4), None)   # after the last row
    dim = etree.fromstring(parallel["xl/worksheets/sheet1.xml"]).find(f"{{{NS}}}dimension")
    assert dim.get("ref") == f"A1:F{N_ROWS + 5}"


def test_irregular_piece_is_patched_in_process(tmp_path, small_pieces):
    """A cell whose r= names a later row: the pool hands that piece back, the result is
    still the serial one."""
    src = str(tmp_path / "odd.xlsx")
    _make_book(src, irregular=True)
    t = _targets(N_ROWS)
    t[(701, 1)] = 123.0                  # the odd cell's target: in row 401 and in row 701
    serial, parallel, delta = _save_both(src, tmp_path, {"Big": t})
    assert serial == parallel
    assert delta["fallbacks"] >= 1 and delta["pieces"] >= 1
    # the first cell named A701 takes the value (the serial path's rule), the second keeps its own
    xml = parallel["xl/worksheets/sheet1.xml"]
    assert b'<row r="401" spans="1:5"><c r="A701"><v>123</v></c>' in xml
    assert b'<row r="701" spans="1:5"><c r="A701"><v>701</v></c>' in xml


def _conformance_books() -> list[str]:
    return sorted(p for p in glob.glob(os.path.join(CONF, "**", "*.xls[xm]"), recursive=True))


def _calculated_corpus():
    """(path, calculated workbook) for every corpus workbook xleval loads."""
    import xleval
    for path in _conformance_books():
        try:
            wb = xleval.load(path)
            wb.calculate()
        except Exception:  # noqa: BLE001 - workbooks xleval cannot load are not the point
            continue
        yield path, wb


@pytest.mark.skipif(not _conformance_books(), reason="../shared/conformance is absent")
def test_parallel_output_identical_on_conformance_corpus(tmp_path, monkeypatch):
    monkeypatch.setattr(W, "_PARALLEL_MIN_CELLS", 1)       # every sheet with a target
    monkeypatch.setattr(W, "_CHUNK", 4 << 10)
    saved = with_targets = ran = 0
    children = _children()
    for path, wb in _calculated_corpus():
        a, b = str(tmp_path / "a.xlsx"), str(tmp_path / "b.xlsx")
        wb.save(a, workers=1)
        before = sum(W.PARALLEL_STATS[k] for k in ("pieces", "local", "fallbacks"))
        wb.save(b, workers=2)
        assert _members(a) == _members(b), path
        saved += 1
        with_targets += any(wb.formula_values().values())
        ran += sum(W.PARALLEL_STATS[k] for k in ("pieces", "local", "fallbacks")) > before
    print(f"{saved} saved, {with_targets} with formulas, {ran} through the pool")
    assert saved >= 200
    assert ran >= 0.9 * with_targets             # (a few parts take the general patcher)
    assert not _children() - children


# ---------------------------------------------------------------------------------------
# (2) a worker killed mid-save, Ctrl-C in the parent
# ---------------------------------------------------------------------------------------

def _kill_on_piece_1(index: int) -> None:
    if index == 1:
        os.kill(os.getpid(), signal.SIGKILL)


def test_worker_killed_mid_save_gives_identical_output(tmp_path, small_pieces, monkeypatch):
    src = str(tmp_path / "book.xlsx")
    _make_book(src)
    values = {"Big": _targets(N_ROWS), "Big2": _targets(N_ROWS // 2)}
    monkeypatch.setattr(W, "_PIECE_HOOK", _kill_on_piece_1)  # inherited by the forked workers
    children = _children()
    serial, parallel, delta = _save_both(src, tmp_path, values)
    assert serial == parallel
    assert delta["pools"] == 1 and delta["fallbacks"] == 1
    assert delta["pieces"] >= 2                  # piece 1 (numbered from 0) was sent
    assert not _children() - children


def test_ctrl_c_in_parent_leaves_no_output_and_no_workers(tmp_path, small_pieces, monkeypatch):
    src = str(tmp_path / "book.xlsx")
    _make_book(src)
    calls = []
    real_write, real_deflated = W._Spool.write, W._Spool.write_deflated

    def tick():                                  # Ctrl-C while pieces are in flight
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt

    def interrupted(self, b):                    # a piece patched here
        tick()
        real_write(self, b)

    def interrupted_deflated(self, z, crc, n):   # a piece a worker patched and compressed
        tick()
        real_deflated(self, z, crc, n)

    monkeypatch.setattr(W._Spool, "write", interrupted)
    monkeypatch.setattr(W._Spool, "write_deflated", interrupted_deflated)
    dst = tmp_path / "out" / "result.xlsx"
    dst.parent.mkdir()
    children = _children()
    with pytest.raises(KeyboardInterrupt):
        write_values(src, str(dst), {"Big": _targets(N_ROWS)}, workers=2)
    assert os.listdir(dst.parent) == []         # neither the output nor its temporary file
    assert not _children() - children


# ---------------------------------------------------------------------------------------
# (3) no processes left, (4) no processes at all when they cannot or need not be used
# ---------------------------------------------------------------------------------------

def test_no_child_processes_after_save(tmp_path, small_pieces):
    src = str(tmp_path / "book.xlsx")
    _make_book(src)
    before = dict(W.PARALLEL_STATS)
    children = _children()
    write_values(src, str(tmp_path / "o.xlsx"), {"Big": _targets(N_ROWS)}, workers=2)
    assert W.PARALLEL_STATS["pools"] == before["pools"] + 1
    assert not _children() - children


def test_small_sheets_and_workers_1_start_no_processes(tmp_path, monkeypatch):
    src = str(tmp_path / "book.xlsx")
    _make_book(src)
    monkeypatch.setattr(W, "_CHUNK", 16 << 10)
    before = dict(W.PARALLEL_STATS)
    # the default threshold is far above these sheets' targets
    write_values(src, str(tmp_path / "a.xlsx"), {"Big": _targets(N_ROWS)}, workers=4)
    monkeypatch.setattr(W, "_PARALLEL_MIN_CELLS", 1000)
    write_values(src, str(tmp_path / "b.xlsx"), {"Big": _targets(N_ROWS)}, workers=1)
    assert W.PARALLEL_STATS == before
    assert _members(str(tmp_path / "a.xlsx")) == _members(str(tmp_path / "b.xlsx"))


def test_spawn_start_method_starts_no_processes(tmp_path, small_pieces, monkeypatch):
    src = str(tmp_path / "book.xlsx")
    _make_book(src)
    before = dict(W.PARALLEL_STATS)
    monkeypatch.setenv("XLEVAL_START_METHOD", "spawn")
    write_values(src, str(tmp_path / "a.xlsx"), {"Big": _targets(N_ROWS)}, workers=2)
    assert W.PARALLEL_STATS == before


_SPAWN_SCRIPT = """
import multiprocessing, sys
multiprocessing.set_start_method(sys.argv[3])
from xleval.writer import xlsx as W
W._PARALLEL_MIN_CELLS = 100
W._CHUNK = 4096
W._CHECK_LOAD = False
t = {(r, 2): r / 3 for r in range(1, 400)}
W.write_values(sys.argv[1], sys.argv[2], {"Big": t}, workers=2)
print(W.PARALLEL_STATS["pools"])
"""


@pytest.mark.parametrize("method, pools", [("spawn", "0"), ("forkserver", "0"), ("fork", "1")])
def test_start_method_set_by_the_program(tmp_path, method, pools):
    """A program that chose spawn/forkserver gets no forked writer processes."""
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"{method} not available")
    src = str(tmp_path / "book.xlsx")
    _make_book(src)
    env = {k: v for k, v in os.environ.items() if k != "XLEVAL_START_METHOD"}
    out = subprocess.run([sys.executable, "-c", _SPAWN_SCRIPT, src, str(tmp_path / "o.xlsx"),
                          method], capture_output=True, text=True, timeout=120, env=env,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == pools


def _save_in_daemon(src: str, dst: str, q) -> None:
    before = W.PARALLEL_STATS["pools"]
    write_values(src, dst, {"Big": _targets(N_ROWS)}, workers=2)
    q.put(W.PARALLEL_STATS["pools"] - before)


def test_daemonic_process_saves_serially(tmp_path, small_pieces):
    """A daemonic process cannot have children: it saves in-process."""
    src = str(tmp_path / "book.xlsx")
    _make_book(src)
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_save_in_daemon, args=(src, str(tmp_path / "d.xlsx"), q), daemon=True)
    p.start()
    started = q.get(timeout=60)
    p.join(60)
    assert p.exitcode == 0 and started == 0
    write_values(src, str(tmp_path / "s.xlsx"), {"Big": _targets(N_ROWS)}, workers=1)
    assert _members(str(tmp_path / "d.xlsx")) == _members(str(tmp_path / "s.xlsx"))


def test_bad_worker_count_is_one_line_error(tmp_path):
    src = str(tmp_path / "book.xlsx")
    _make_book(src)
    with pytest.raises(ValueError, match="workers must be a whole number from 1 to 256"):
        write_values(src, str(tmp_path / "o.xlsx"), {"Big": {(1, 2): 1.0}}, workers=0)


_CLI_SCRIPT = """
import sys
from xleval.writer import xlsx as W
W._PARALLEL_MIN_CELLS = 1000
W._CHUNK = 8192
W._CHECK_LOAD = False
from xleval.cli import main
code = main(["calc", sys.argv[1], "-o", sys.argv[2], "-q"] + sys.argv[3:])
print(W.PARALLEL_STATS["pools"], W.PARALLEL_STATS["pieces"])
sys.exit(code)
"""


@pytest.mark.parametrize("args, parallel", [(["--strategy", "serial"], False),
                                            (["--workers", "2"], True),
                                            (["--strategy", "auto", "--workers", "1"], False)])
def test_cli_calc_saves_with_its_workers(tmp_path, args, parallel):
    """`xleval calc` saves with the workers it calculated with; same bytes either way."""
    import openpyxl
    src = tmp_path / "f.xlsx"
    book = openpyxl.Workbook()
    ws = book.active
    for r in range(1, 1501):
        ws.cell(r, 1, r)
        ws.cell(r, 2, f"=A{r}*2")
        ws.cell(r, 3, f'=IF(B{r}>1000,"big",B{r}/4)')
    book.save(src)
    out = tmp_path / f"o{len(args)}.xlsx"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    run = subprocess.run([sys.executable, "-c", _CLI_SCRIPT, str(src), str(out), *args],
                         capture_output=True, text=True, timeout=300, cwd=root)
    assert run.returncode == 0, run.stderr
    pools, pieces = map(int, run.stdout.split())
    assert (pools, pieces > 0) == ((1, True) if parallel else (0, False))
    ref = tmp_path / "ref.xlsx"
    run = subprocess.run([sys.executable, "-m", "xleval", "calc", str(src), "-o", str(ref), "-q",
                          "--strategy", "serial"], capture_output=True, text=True, timeout=300,
                         cwd=root)
    assert run.returncode == 0, run.stderr
    assert _members(str(out)) == _members(str(ref))
    cells = _cell_values(_members(str(out))["xl/worksheets/sheet1.xml"])
    assert cells["B700"] == (None, "1400", None)          # 700*2, by hand
    assert cells["C400"] == (None, "200", None)           # 800/4
    assert cells["C501"] == ("str", "big", None)


def test_busy_machine_gets_fewer_workers(monkeypatch):
    """With the load check on, never more workers than asked nor fewer than one; with as
    many busy processes as cores running (real ones), no second worker at all."""
    monkeypatch.setattr(W, "_CHECK_LOAD", True)
    assert 1 <= W._free_workers(4) <= 4
    cores = len(os.sched_getaffinity(0))
    spin = [sys.executable, "-c", "import time\nt = time.time() + 20\nwhile time.time() < t: pass"]
    busy = [subprocess.Popen(spin) for _ in range(cores)]
    try:
        deadline = time.time() + 5
        while running_others() < cores and time.time() < deadline:
            time.sleep(0.05)
        assert running_others() >= cores
        assert W._free_workers(8) == 1
    finally:
        for p in busy:
            p.kill()
            p.wait()


def test_patch_sheet_stream_alone_with_workers(tmp_path, small_pieces):
    """patch_sheet_stream(workers=2) on its own (no write_values): its own pool, same bytes."""
    import io
    data = _sheet_xml(N_ROWS)
    t = _targets(N_ROWS)
    outs = []
    before = dict(W.PARALLEL_STATS)
    for workers in (1, 2):
        out = io.BytesIO()
        W.patch_sheet_stream(io.BytesIO(data), out, t, "Big", W._CHUNK, workers=workers)
        outs.append(out.getvalue())
    assert outs[0] == outs[1]
    assert W.PARALLEL_STATS["pools"] == before["pools"] + 1
    assert _cell_values(outs[1])["C12"] == ("e", "#N/A", None)


def test_crc32_combine_matches_zlib():
    """crc32_combine(crc(A), crc(B), len(B)) is crc(A + B), for any lengths (0 included)."""
    import random
    import zlib
    rng = random.Random(7)
    for _ in range(200):
        a = rng.randbytes(rng.randrange(0, 3000))
        b = rng.randbytes(rng.choice([0, 1, 2, 3, 255, 4096, rng.randrange(0, 200_000)]))
        assert W.crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_deflated_pieces_decompress_to_their_concatenation():
    """Pieces compressed apart (_deflate_piece) appended after a member's own full flush
    form one valid deflate stream: zipfile reads back exactly the bytes, CRC checked."""
    import io
    import random
    rng = random.Random(3)
    parts = [b"<row>" + rng.randbytes(rng.randrange(0, 5000)) * rng.randrange(1, 4)
             for _ in range(12)]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("a.xml", "w") as dst:
            assert W._can_append_deflated(dst)
            dst.write(b"head" * 1000)
            with W._Spool(1 << 14, deflate=True) as spool:   # small limit: spills to a file
                for i, part in enumerate(parts):
                    if i % 2:
                        spool.write(part)                    # compressed by the spool
                    else:
                        spool.write_deflated(W._deflate_piece(part), zlib.crc32(part),
                                             len(part))
                assert spool.file is not None
                W._append_deflated(dst, spool, 4096)
            dst.write(b"tail" * 1000)
    with zipfile.ZipFile(buf) as z:
        assert z.testzip() is None
        assert z.read("a.xml") == b"head" * 1000 + b"".join(parts) + b"tail" * 1000


@pytest.mark.parametrize("formula_cells", [False, True])
def test_cell_values_view_writes_what_the_dict_writes(tmp_path, small_pieces, formula_cells):
    """CellValues (the targets read from a larger value dict, a marker reading as blank)
    gives the same file as the plain dict of those values, serially and in parallel. With
    formula_cells, the fast path cuts out formula cells only: the targets that are not
    (constants, cells missing from the XML) go to the general patcher, same file."""
    src = str(tmp_path / "book.xlsx")
    _make_book(src)
    targets = _targets(N_ROWS)
    marker = object()
    cells = dict(targets)
    cells[(1, 1)] = 99.0                          # a constant: not a target, never written
    cells[(2, 2)] = marker                        # not computed: written as a blank result
    expected = dict(targets)
    expected[(2, 2)] = None
    view = W.CellValues(cells, list(targets), marker, formula_cells=formula_cells)
    write_values(src, str(tmp_path / "dict.xlsx"), {"Big": expected}, workers=1)
    for workers in (1, 2):
        before = dict(W.PARALLEL_STATS)
        write_values(src, str(tmp_path / f"view{workers}.xlsx"), {"Big": view}, workers=workers)
        assert (W.PARALLEL_STATS["pieces"] > before["pieces"]) == (workers == 2)
        assert _members(str(tmp_path / f"view{workers}.xlsx")) == _members(
            str(tmp_path / "dict.xlsx"))
    cells_xml = _cell_values(_members(str(tmp_path / "view2.xlsx"))["xl/worksheets/sheet1.xml"])
    assert cells_xml["A1"] == (None, "1", None)               # the constant kept its value
    assert cells_xml["B2"] == ("str", None, None)             # the marker: a blank result


@pytest.mark.parametrize("sheet_min, pooled", [(1000, True), (2000, False)])
def test_sheets_below_the_threshold_share_a_pool_when_large_together(
        tmp_path, monkeypatch, sheet_min, pooled):
    """Big (2,772 targets) and Big2 (1,387) are each below the 3,500-cell threshold: with
    sheets of 1,000+ counted together (4,159) they share one pool; with 2,000+, Big alone
    is too small and nothing forks. The output is the serial one either way."""
    monkeypatch.setattr(W, "_PARALLEL_MIN_CELLS", 3500)
    monkeypatch.setattr(W, "_PARALLEL_SHEET_MIN", sheet_min)
    monkeypatch.setattr(W, "_CHUNK", 8 << 10)
    src = str(tmp_path / "book.xlsx")
    _make_book(src)
    values = {"Big": _targets(N_ROWS), "Small": _targets(20), "Big2": _targets(N_ROWS // 2)}
    assert all(len(t) < 3500 for t in values.values())
    assert len(values["Big"]) + len(values["Big2"]) >= 3500
    serial, parallel, delta = _save_both(src, tmp_path, values)
    assert serial == parallel
    assert delta["pools"] == (1 if pooled else 0)
    assert (delta["pieces"] > 0) == pooled


# ---------------------------------------------------------------------------------------
# rows written straight into the output (no spool) when the head cannot change
# ---------------------------------------------------------------------------------------

def _inside_targets(n: int) -> dict:
    """Targets within the sheet's dimension A1:E{n} (no row or column beyond it)."""
    return {k: v for k, v in _targets(n).items() if k[1] <= 5 and k[0] <= n}


def _save_modes(src: str, tmp_path, values: dict, workers: int) -> tuple[dict, dict, dict]:
    """(members written directly, members written with the spool, _DIRECT_STATS deltas)."""
    before = dict(W._DIRECT_STATS)
    write_values(src, str(tmp_path / "direct.xlsx"), values, workers=workers)
    delta = {k: W._DIRECT_STATS[k] - before[k] for k in before}
    with W.atomic_output(str(tmp_path / "spooled.xlsx")) as fh, zipfile.ZipFile(src) as zin:
        W._write(zin, fh, values, None, {}, src, workers, direct=False)
    for name in ("direct.xlsx", "spooled.xlsx"):
        with zipfile.ZipFile(tmp_path / name) as z:
            assert z.testzip() is None
    return _members(str(tmp_path / "direct.xlsx")), _members(str(tmp_path / "spooled.xlsx")), delta


@pytest.mark.parametrize("workers", [1, 2])
def test_rows_go_straight_to_the_output_when_the_dimension_covers_the_targets(
        tmp_path, small_pieces, workers):
    src = str(tmp_path / "book.xlsx")
    _make_book(src)
    values = {"Big": _inside_targets(N_ROWS), "Big2": _inside_targets(N_ROWS // 2)}
    direct, spooled, delta = _save_modes(src, tmp_path, values, workers)
    assert direct == spooled
    assert delta == {"direct": 2, "restarts": 0}
    cells = _cell_values(direct["xl/worksheets/sheet1.xml"])
    assert cells["B8"] == (None, "16", None) and cells["C9"] == ("str", "x&<9", None)


def test_targets_beyond_the_dimension_keep_rows_until_the_head_is_updated(tmp_path,
                                                                          small_pieces):
    src = str(tmp_path / "book.xlsx")
    _make_book(src)
    direct, spooled, delta = _save_modes(src, tmp_path, {"Big": _targets(N_ROWS)}, 1)
    assert direct == spooled and delta["direct"] == 0
    dim = etree.fromstring(direct["xl/worksheets/sheet1.xml"]).find(f"{{{NS}}}dimension")
    assert dim.get("ref") == f"A1:F{N_ROWS + 5}"


@pytest.mark.parametrize("workers", [1, 2])
def test_a_part_found_unusual_late_is_written_again(tmp_path, small_pieces, workers):
    """A row without r= far into the sheet (after the first pieces went out): the file is
    written again with the spool, and equals what the spooled writer gives."""
    xml = _sheet_xml(N_ROWS)
    at = xml.index(b'<row r="801"')
    xml = xml[:at] + b"<row>" + xml[xml.index(b">", at) + 1:]
    src = str(tmp_path / "late.xlsx")
    _make_book(src)
    with zipfile.ZipFile(src) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    parts["xl/worksheets/sheet1.xml"] = xml
    with zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as z:
        for n, b in parts.items():
            z.writestr(n, b)
    values = {"Big": {k: v for k, v in _inside_targets(N_ROWS).items() if k[0] < 700}}
    direct, spooled, delta = _save_modes(src, tmp_path, values, workers)
    assert direct == spooled
    assert delta["restarts"] == 1
    cells = _cell_values(direct["xl/worksheets/sheet1.xml"])
    assert cells["B8"] == (None, "16", None)


@pytest.mark.skipif(not _conformance_books(), reason="../shared/conformance is absent")
def test_streaming_writer_equals_the_whole_part_patcher_on_the_corpus(monkeypatch):
    """The streaming writer (pieces patched with their own rows' targets, small pieces)
    gives every corpus sheet exactly what the general patcher gives working on the whole
    part in memory -- an independent implementation of the same patching."""
    monkeypatch.setattr(W, "_CHUNK", 4 << 10)
    parts_checked = 0
    for path, wb in _calculated_corpus():
        parts = {s.name: s.part for s in wb.data.sheets if s.part}
        with zipfile.ZipFile(path) as z:
            for name, targets in wb.formula_values().items():
                if not targets or name not in parts:
                    continue
                data = z.read(parts[name].lstrip("/"))
                assert W.patch_sheet_xml(data, targets, name) == W._general_patch(
                    data, targets, name), (path, name)
                parts_checked += 1
    assert parts_checked >= 400


def test_a_long_stretch_without_a_row_end_goes_the_general_way(tmp_path, small_pieces,
                                                               monkeypatch):
    # a part that ends no row for megabytes (crafted padding) made the streaming writer
    # search and grow its buffer again at every chunk: quadratic (100 MB: ~2 minutes).
    # Past _ROWLESS bytes it hands the part to the general patcher: same bytes out.
    src = str(tmp_path / "book.xlsx")
    _make_book(src)
    values = {"Big": _targets(N_ROWS), "Small": _targets(20)}
    write_values(src, str(tmp_path / "stream.xlsx"), values, workers=1)
    # every chunk read after one that ended no row is "too long" (a chunk of 64 bytes
    # ends no row now and then: the rows here are longer)
    monkeypatch.setattr(W, "_ROWLESS", 1)
    monkeypatch.setattr(W, "_CHUNK", 64)
    general = []
    monkeypatch.setattr(W, "_general_patch",
                        lambda *a, f=W._general_patch: general.append(1) or f(*a))
    write_values(src, str(tmp_path / "general.xlsx"), values, workers=1)
    assert general
    assert _members(str(tmp_path / "stream.xlsx")) == _members(str(tmp_path / "general.xlsx"))
