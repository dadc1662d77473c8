"""`make bench-peers`: xleval side by side with IronCalc, formualizer and `formulas` (and
pycel when it is installed), in one run, on the shapes of benchmarks/generate.py.

    python benchmarks/peers.py [--rows 10000[,100000]] [--shapes wide,chain,...]
                               [--formulas-rows 1000] [--formulas-shapes hetero,wide|all]
                               [--engines xleval,ironcalc,formualizer,formulas,pycel]
                               [--timeout 600] [--formulas-timeout 300] [--repeat 1]
                               [--max-formulas 2000000] [--note TEXT] [--verbose]
                               [--out benchmarks/RESULTS.md] [--json benchmarks/results/peers.json]
    python benchmarks/peers.py --from-json benchmarks/results/peers.json   # re-render only

Every engine runs in its own fresh interpreter and is timed as a whole process: import,
load the .xlsx, recalculate every formula, write an .xlsx with the values. Peak RSS is the
engine process's `ru_maxrss`, taken by a small launcher process (see `_LAUNCH`; with
xleval's worker processes it is the largest single process, not the sum). A run that
exceeds its timeout is killed and recorded as "timeout".

Values: every formula cell of each peer's output is compared with xleval's output (numbers
within 1e-9 relative; text, booleans and error codes exactly; an empty result equals "").
The output files are read with a small lxml reader of the package parts, not with any of
the engines, so the comparison is independent of all of them.

The generated workbooks carry no styles part (generate.py writes the bare minimum, which
Excel accepts); IronCalc refuses a package without xl/styles.xml, so every engine reads the
same copy with a one-style xl/styles.xml added (benchmarks/generated/peers/, git-ignored).

The run writes its own section of benchmarks/RESULTS.md (other sections are kept) and the
full data as JSON. Sizes: `--rows` for xleval and the Rust engines (default 10,000; add
100,000 for the linear-scaling check, which takes long), `--formulas-rows` for `formulas`
(default 1,000; xleval and the Rust engines are run at that size too, for the ratio).
Workbooks above `--max-formulas` are skipped (finance at 100,000 rows: 6 million formulas).
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import importlib.util
import json
import math
import os
import pathlib
import platform
import posixpath
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import asdict, dataclass, field

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402
from results_md import update_sections  # noqa: E402

SECTION = "## Peers: xleval vs formulas, IronCalc, formualizer"
NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RNS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
REL_TOL = 1e-9
ABS_TOL = 1e-12          # results that cancel to ~0 (1e5 - 1e5) differ in the last bits
RUST_PEERS = ("ironcalc", "formualizer")


# ----------------------------------------------------------------------------------------
# engines: each is a program run in a fresh interpreter as `python -c CODE IN OUT [EXTRA]`
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Engine:
    name: str            # key used on the command line and in the JSON
    label: str           # column title
    module: str          # distribution / import name (for availability and version)
    code: str | None     # the child program (None: xleval's own CLI)


_IRONCALC = """\
import sys, ironcalc
model = ironcalc.load_from_xlsx(sys.argv[1])
model.evaluate()
model.save_to_xlsx(sys.argv[2])
"""

# The Workbook API rather than recalculate_xlsx_file: the latter refuses large workbooks
# ("formula cell count limit in workbook" at 180,000 formulas).
_FORMUALIZER = """\
import sys, formualizer
wb = formualizer.load_workbook(sys.argv[1])
wb.evaluate_all()
data = wb.to_xlsx_bytes()
with open(sys.argv[2], "wb") as fh:
    fh.write(data)
"""

# formulas writes <dirpath>/<INPUT NAME UPPER-CASED> with upper-cased sheet names.
_FORMULAS = """\
import glob, os, sys, tempfile, formulas
model = formulas.ExcelModel().loads(sys.argv[1]).finish()
solution = model.calculate()
folder = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(sys.argv[2])))
model.write(books=None, solution=solution, dirpath=folder)
(written,) = glob.glob(os.path.join(folder, "*"))
os.replace(written, sys.argv[2])
os.rmdir(folder)
"""

# pycel has no .xlsx writer: it evaluates the formula cells listed in argv[3] (a JSON list
# of "Sheet!A1") and writes {address: value} as JSON. (Not exercised here: pycel is not
# installed in this environment; a failure is recorded as that engine's "error".)
_PYCEL = """\
import json, sys
from pycel import ExcelCompiler
xl = ExcelCompiler(filename=sys.argv[1])
with open(sys.argv[3]) as fh:
    cells = json.load(fh)
out = {}
for addr in cells:
    v = xl.evaluate(addr)
    out[addr] = v if v is None or isinstance(v, (bool, int, float, str)) else str(v)
with open(sys.argv[2], "w") as fh:
    json.dump(out, fh)
"""

ENGINES = {
    "xleval": Engine("xleval", "xleval", "xleval", None),
    "ironcalc": Engine("ironcalc", "IronCalc", "ironcalc", _IRONCALC),
    "formualizer": Engine("formualizer", "formualizer", "formualizer", _FORMUALIZER),
    "formulas": Engine("formulas", "formulas", "formulas", _FORMULAS),
    "pycel": Engine("pycel", "pycel", "pycel", _PYCEL),
}


def available(name: str) -> bool:
    """Whether the engine's package can be imported by this interpreter."""
    return importlib.util.find_spec(ENGINES[name].module) is not None


def version(name: str) -> str | None:
    """The installed version of the engine's package (None: not installed)."""
    try:
        return importlib.metadata.version(ENGINES[name].module)
    except importlib.metadata.PackageNotFoundError:
        return None


def _xleval_cmd() -> list[str]:
    script = pathlib.Path(sys.executable).parent / "xleval"
    return [str(script)] if script.exists() else [sys.executable, "-m", "xleval"]


# ----------------------------------------------------------------------------------------
# workbooks
# ----------------------------------------------------------------------------------------
STYLES = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          f'<styleSheet xmlns="{NS}"><fonts count="1"><font><sz val="11"/>'
          '<name val="Calibri"/></font></fonts><fills count="2"><fill><patternFill '
          'patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
          '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
          '</borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" '
          'borderId="0"/></cellStyleXfs><cellXfs count="1"><xf numFmtId="0" fontId="0" '
          'fillId="0" borderId="0" xfId="0"/></cellXfs><cellStyles count="1"><cellStyle '
          'name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')


def add_styles(src: str, dst: str) -> None:
    """Copy the package `src` to `dst` with a minimal xl/styles.xml (part, relationship and
    content type) added, unless it already has one."""
    with zipfile.ZipFile(src) as zi:
        if "xl/styles.xml" in zi.namelist():
            shutil.copyfile(src, dst)
            return
        with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zo:
            for info in zi.infolist():
                data = zi.read(info)
                if info.filename == "[Content_Types].xml":
                    data = data.replace(b"</Types>", (
                        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.'
                        'openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>'
                    ).encode())
                elif info.filename == "xl/_rels/workbook.xml.rels":
                    data = data.replace(b"</Relationships>", (
                        '<Relationship Id="rIdPeersStyles" Type="http://schemas.openxmlformats'
                        '.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
                        '</Relationships>').encode())
                zo.writestr(info, data)
            zo.writestr("xl/styles.xml", STYLES)


def prepare(shape: str, rows: int, folder: pathlib.Path) -> pathlib.Path:
    """The benchmark workbook of `shape` at `rows` (generated once, then cached)."""
    if shape not in generate.SHAPES:
        raise SystemExit(f"peers: unknown shape {shape!r} (one of {', '.join(generate.SHAPES)})")
    folder.mkdir(parents=True, exist_ok=True)
    book = folder / f"{shape}_{rows}.xlsx"
    if not book.exists():
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            bare = os.path.join(tmp, "bare.xlsx")
            generate.generate(shape, rows, bare)
            add_styles(bare, os.path.join(tmp, "book.xlsx"))
            os.replace(os.path.join(tmp, "book.xlsx"), book)
    return book


# ----------------------------------------------------------------------------------------
# reading values (independent of every engine)
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Err:
    """An Excel error value as written in the file, e.g. '#DIV/0!'."""
    code: str

    def __str__(self) -> str:
        return self.code


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _split_ref(ref: str) -> tuple[str, int]:
    i = 0
    while i < len(ref) and ref[i].isalpha():
        i += 1
    return ref[:i].upper(), int(ref[i:])


def _sheet_parts(zf: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(sheet name, part path) of every worksheet, in workbook order."""
    from lxml import etree
    root_rels = etree.fromstring(zf.read("_rels/.rels"))
    wb_part = next(r.get("Target") for r in root_rels
                   if r.get("Type", "").endswith("/officeDocument")).lstrip("/")
    base = posixpath.dirname(wb_part)
    rels_path = posixpath.join(base, "_rels", posixpath.basename(wb_part) + ".rels")
    targets = {r.get("Id"): r.get("Target") for r in etree.fromstring(zf.read(rels_path))}
    out = []
    for s in etree.fromstring(zf.read(wb_part)).iter(f"{{{NS}}}sheet"):
        target = targets[s.get(f"{{{RNS}}}id")]
        path = target.lstrip("/") if target.startswith("/") else \
            posixpath.normpath(posixpath.join(base, target))
        out.append((s.get("name"), path))
    return out


def _shared_strings(zf: zipfile.ZipFile) -> list[str]:
    from lxml import etree
    names = set(zf.namelist())
    part = next((n for n in ("xl/sharedStrings.xml", "xl/SharedStrings.xml") if n in names), None)
    if part is None:
        return []
    root = etree.fromstring(zf.read(part))
    return ["".join(t.text or "" for t in si.iter(f"{{{NS}}}t")) for si in root.iter(f"{{{NS}}}si")]


def _cells(path: str, formulas_only: bool):
    """Yield (SHEET NAME UPPER-CASED, 'A1', value, has_formula) for every cell of an .xlsx.
    Sheet names are compared case-insensitively, as Excel does (formulas upper-cases them)."""
    from lxml import etree
    row_tag, c_tag = f"{{{NS}}}row", f"{{{NS}}}c"
    f_tag, v_tag, is_tag, t_tag = (f"{{{NS}}}{x}" for x in ("f", "v", "is", "t"))
    with zipfile.ZipFile(path) as zf:
        strings = None if formulas_only else _shared_strings(zf)
        for name, part in _sheet_parts(zf):
            sheet = name.upper()
            with zf.open(part) as fh:
                row, col = 0, 0
                for event, el in etree.iterparse(fh, events=("start", "end"),
                                                 tag=(row_tag, c_tag)):
                    if el.tag == row_tag:
                        if event == "start":
                            row, col = int(el.get("r") or row + 1), 0
                        else:
                            el.clear()
                        continue
                    if event == "start":
                        continue
                    ref = el.get("r")
                    if ref:
                        letters, row = _split_ref(ref)
                        col = _col_number(letters)
                    else:
                        col += 1
                        ref = f"{generate.col_letter(col)}{row}"
                    has_f = el.find(f_tag) is not None
                    if formulas_only:
                        if has_f:
                            yield sheet, ref.upper(), None, True
                        continue
                    t = el.get("t", "n")
                    v = el.find(v_tag)
                    text = v.text if v is not None else None
                    if t == "inlineStr":
                        is_el = el.find(is_tag)
                        value = "".join(x.text or "" for x in is_el.iter(t_tag)) \
                            if is_el is not None else ""
                    elif text is None:
                        value = None
                    elif t == "s":
                        value = strings[int(text)]
                    elif t == "str":
                        value = text
                    elif t == "b":
                        value = text.strip() in ("1", "true")
                    elif t == "e":
                        value = Err(text)
                    else:
                        value = float(text)
                    yield sheet, ref.upper(), value, has_f


def formula_cells(path: str) -> list[tuple[str, str]]:
    """(SHEET, ref) of every formula cell of a workbook."""
    return [(s, r) for s, r, _, _ in _cells(path, formulas_only=True)]


_ERROR_CODES = {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A",
                "#GETTING_DATA", "#SPILL!", "#CALC!"}


def read_values(path: str) -> dict[tuple[str, str], object]:
    """{(SHEET, ref): value} of an engine's output: an .xlsx, or pycel's JSON."""
    if path.endswith(".json"):
        with open(path) as fh:
            data = json.load(fh)
        out = {}
        for addr, v in data.items():
            sheet, ref = addr.rsplit("!", 1)
            if isinstance(v, str) and v in _ERROR_CODES:
                v = Err(v)
            elif isinstance(v, int) and not isinstance(v, bool):
                v = float(v)
            out[(sheet.strip("'").upper(), ref.replace("$", "").upper())] = v
        return out
    return {(s, r): v for s, r, v, _ in _cells(path, formulas_only=False)}


def same(a: object, b: object, rel_tol: float = REL_TOL) -> bool:
    """Whether two cell values agree: numbers within `rel_tol` relative (or 1e-12 absolute,
    for results that cancel to ~0), everything else exactly; an empty cell equals ""."""
    if a in (None, "") and b in (None, ""):
        return True
    num_a = isinstance(a, (int, float)) and not isinstance(a, bool)
    num_b = isinstance(b, (int, float)) and not isinstance(b, bool)
    if num_a and num_b:
        if math.isnan(a) or math.isnan(b):
            return False
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=ABS_TOL)
    return type(a) is type(b) and a == b


def compare(cells: list[tuple[str, str]], reference: dict, values: dict,
            rel_tol: float = REL_TOL, examples: int = 5) -> tuple[int, list[dict]]:
    """The number of formula `cells` whose value in `values` differs from `reference`, and
    up to `examples` of them."""
    bad, shown = 0, []
    for key in cells:
        want, got = reference.get(key), values.get(key)
        if not same(want, got, rel_tol):
            bad += 1
            if len(shown) < examples:
                shown.append({"cell": f"{key[0]}!{key[1]}", "xleval": _show(want),
                              "engine": _show(got)})
    return bad, shown


def _show(v: object) -> object:
    return str(v) if isinstance(v, Err) else v


# ----------------------------------------------------------------------------------------
# running
# ----------------------------------------------------------------------------------------
@dataclass
class Run:
    engine: str
    shape: str
    rows: int
    formulas: int
    status: str                     # ok | timeout | error | skipped | not installed
    seconds: float | None = None    # wall time of the whole process (best of the repeats)
    maxrss_kb: int | None = None    # peak resident set size of the process
    rss_per_formula: float | None = None   # bytes
    mismatches: int | None = None   # formula cells that differ from xleval's values
    examples: list = field(default_factory=list)
    error: str | None = None
    stages: dict | None = None      # xleval only: its own stage timings
    load_before: float | None = None


# Peak RSS: on Linux a process's ru_maxrss starts at the RSS of the process it was forked
# from (exec keeps the high-water mark of the old address space), so the engines are not
# started from this runner, which grows while it reads values, but through this small
# launcher: it times the engine and reports the engine's ru_maxrss (floor: the launcher's
# own ~10 MB).
_LAUNCH = """\
import os, sys, time
t0 = time.perf_counter()
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - t0
with open(sys.argv[1], "w") as fh:
    fh.write(f"{seconds!r} {usage.ru_maxrss}")
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def _timed(argv: list[str], timeout: float) -> tuple[str, float, int | None, str]:
    """Run argv (argv[0] an absolute path) in its own process group, stdout discarded;
    (status, wall seconds, peak RSS KB or None, stderr tail). On timeout, or if this runner
    is interrupted, the whole group is killed."""
    with tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as tmp:
        stats = os.path.join(tmp, "stats")
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-S", "-c", _LAUNCH, stats, *argv],
                                stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True, cwd=str(ROOT))
        killed = threading.Event()

        def kill() -> None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        timer = threading.Timer(timeout, lambda: (killed.set(), kill()))
        timer.start()
        try:
            proc.wait()
        except BaseException:
            kill()
            proc.wait()
            raise
        finally:
            timer.cancel()
        seconds, rss = time.perf_counter() - t0, None
        if os.path.exists(stats):
            with open(stats) as fh:
                text = fh.read().split()
            seconds, rss = float(text[0]), int(text[1])
        err.seek(0)
        tail = err.read()[-2000:].decode("utf-8", "replace").strip()
    if killed.is_set():
        return "timeout", seconds, None, tail
    return ("ok" if proc.returncode == 0 else "error"), seconds, rss, tail


def run_engine(name: str, book: pathlib.Path, out: pathlib.Path, timeout: float,
               cells: list[tuple[str, str]] | None = None) -> tuple[str, float, int, str, dict | None]:
    """Recalculate `book` with engine `name` in a fresh process, writing `out`:
    (status, seconds, peak RSS KB, error text, xleval's stage timings or None)."""
    eng = ENGINES[name]
    if out.exists():
        out.unlink()           # IronCalc refuses to overwrite
    stages = None
    if eng.code is None:
        report = out.with_suffix(".report.json")
        argv = _xleval_cmd() + ["calc", str(book), "-o", str(out), "-q", "--report", str(report)]
    else:
        argv = [sys.executable, "-c", eng.code, str(book), str(out)]
        if name == "pycel":
            listing = out.with_suffix(".cells.json")
            listing.write_text(json.dumps([f"'{s}'!{r}" for s, r in cells or []]))
            argv.append(str(listing))
    # stdout is discarded: IronCalc prints a line per formula cell without a cached value
    status, seconds, rss, tail = _timed(argv, timeout)
    if status == "ok" and not out.exists():
        status, tail = "error", f"no output written; {tail}"
    if eng.code is None and report.exists():
        if status == "ok":
            stages = json.loads(report.read_text()).get("timings")
        report.unlink()
    if name == "pycel":
        listing.unlink(missing_ok=True)
    # the last line of stderr, after any progress-bar carriage returns
    last = tail.splitlines()[-1].split("\r")[-1].strip() if tail else ""
    if status == "timeout":
        last = f"killed after {timeout:g}s"
    return status, seconds, rss, ("" if status == "ok" else last[:300]), stages


def _git() -> str | None:
    """The commit measured, with '+ uncommitted changes' when the tree differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return (head + (" + uncommitted changes" if dirty.strip() else "")) if head else None


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def bench_shape(shape: str, rows: int, engines: list[str], args, workdir: pathlib.Path,
                generated: pathlib.Path) -> list[Run]:
    """All engines on one workbook; values compared with xleval's."""
    book = prepare(shape, rows, generated)
    cells = formula_cells(str(book))
    n = len(cells)
    runs: list[Run] = []
    outputs: dict[str, pathlib.Path] = {}
    for name in engines:
        if name == "formulas" and (rows != args.formulas_rows or
                                   (args.formulas_shapes != "all" and
                                    shape not in args.formulas_shapes.split(","))):
            continue
        run = Run(name, shape, rows, n, "not installed", load_before=(_load() or [None])[0])
        runs.append(run)
        if not available(name):
            continue
        if n > args.max_formulas:
            run.status = "skipped"
            run.error = f"{n:,} formulas > --max-formulas {args.max_formulas:,}"
            print(f"  {shape:8s} {rows:>7,} rows  {name:12s} skipped ({run.error})", flush=True)
            continue
        out = workdir / f"{shape}_{rows}.{name}.{'json' if name == 'pycel' else 'xlsx'}"
        timeout = args.formulas_timeout if name == "formulas" else args.timeout
        best = None
        for _ in range(args.repeat):
            status, seconds, rss, error, stages = run_engine(name, book, out, timeout, cells)
            if status != "ok":
                best = (status, seconds, rss, error, stages)
                break
            if best is None or seconds < best[1]:
                best = (status, seconds, rss, error, stages)
        run.status, run.seconds, run.maxrss_kb, run.error, run.stages = best
        run.seconds = round(run.seconds, 3)
        if run.maxrss_kb is not None:
            run.rss_per_formula = round(run.maxrss_kb * 1024 / max(n, 1), 1)
        if run.status == "ok":
            outputs[name] = out
        print(f"  {shape:8s} {rows:>7,} rows  {name:12s} {run.status:8s} "
              f"{run.seconds:9.2f}s  {(run.maxrss_kb or 0) / 1024:8.1f} MB"
              + (f"  ({run.error})" if run.error else ""), flush=True)
    if "xleval" in outputs:
        reference = read_values(str(outputs["xleval"]))
        for run in runs:
            if run.engine != "xleval" and run.engine in outputs:
                run.mismatches, run.examples = compare(cells, reference,
                                                       read_values(str(outputs[run.engine])))
                if run.mismatches and args.verbose:
                    print(f"    {run.engine}: {run.mismatches} mismatching cells, e.g.")
                    for ex in run.examples:
                        print(f"      {ex['cell']}: xleval {ex['xleval']!r}, "
                              f"{run.engine} {ex['engine']!r}")
    for path in outputs.values():
        path.unlink(missing_ok=True)
    return runs


# ----------------------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------------------
def _by(runs: list[dict], shape: str, rows: int) -> dict[str, dict]:
    return {r["engine"]: r for r in runs if r["shape"] == shape and r["rows"] == rows}


def _secs(r: dict | None) -> str:
    if r is None:
        return "-"
    if r["status"] == "ok":
        return f"{r['seconds']:.2f}"
    if r["status"] == "timeout":
        return f"timeout ({r['seconds']:.0f}s)"
    return r["status"]


def summary(runs: list[dict]) -> list[dict]:
    """Per (rows, shape): the times, the ratios the targets are stated in, and mismatches."""
    rows_out = []
    for rows in sorted({r["rows"] for r in runs}):
        for shape in dict.fromkeys(r["shape"] for r in runs if r["rows"] == rows):
            by = _by(runs, shape, rows)
            x = by.get("xleval")
            xs = x["seconds"] if x and x["status"] == "ok" else None
            rust = [by[p]["seconds"] for p in RUST_PEERS if p in by and by[p]["status"] == "ok"]
            f = by.get("formulas")
            ratio_f, lower = None, False
            if xs and f and f["status"] in ("ok", "timeout"):
                ratio_f, lower = f["seconds"] / xs, f["status"] == "timeout"
            rows_out.append({
                "rows": rows, "shape": shape, "formulas": next(iter(by.values()))["formulas"],
                "xleval_vs_best_rust": round(xs / min(rust), 3) if xs and rust else None,
                "formulas_vs_xleval": round(ratio_f, 1) if ratio_f else None,
                "formulas_vs_xleval_is_lower_bound": lower,
                "xleval_us_per_formula": round(xs * 1e6 / max(x["formulas"], 1), 2) if xs else None,
            })
    return rows_out


def render(data: dict) -> str:
    """The RESULTS.md section."""
    meta, runs = data["meta"], data["runs"]
    engines = [e for e in ENGINES if any(r["engine"] == e for r in runs)]
    vers = ", ".join(f"{ENGINES[e].label} {meta['versions'].get(e) or 'not installed'}"
                     for e in ENGINES)
    L = [SECTION, "",
         f"Written by `make bench-peers` (`benchmarks/peers.py`), {meta['date']}; every figure "
         "was measured in that one run.", "",
         f"* machine: `{meta['platform']}`, {meta['cpus']} CPUs, Python {meta['python']}",
         f"* versions: {vers}; xleval at commit {meta.get('commit') or 'unknown'}",
         f"* load average (1/5/15 min) at start: {' / '.join(map(str, meta['load_start'] or []))}; "
         f"at end: {' / '.join(map(str, meta['load_end'] or []))}. "
         + meta.get("note", ""),
         "* each engine runs in a fresh process (xleval byte-compiled first, as a wheel "
         "install is): import + load + full recalculation + write "
         f"the .xlsx with values; wall time, best of {meta['repeat']}; peak RSS is the "
         "process's `ru_maxrss`, taken by a small launcher (floor ~10 MB; xleval: its "
         "largest single process). xleval runs `xleval calc IN "
         "-o OUT -q` with its default strategy, `auto`. Timeouts: "
         f"{meta['timeout']:.0f}s, `formulas` {meta['formulas_timeout']:.0f}s.",
         "* mismatches: formula cells whose value differs from xleval's (numbers beyond "
         f"{REL_TOL:g} relative), read back from each engine's output file",
         "* targets (issue 7): `xleval / best Rust` <= 1.00 at 10,000 rows with 0 mismatches; "
         "`formulas / xleval` >= 300 at 1,000 rows; xleval's time per formula at 100,000 rows "
         "<= 1.5x that at 10,000; xleval peak RSS < 1,536 B/formula at 10,000 rows", ""]
    summ = {(s["rows"], s["shape"]): s for s in data["summary"]}
    for rows in sorted({r["rows"] for r in runs}):
        shapes = list(dict.fromkeys(r["shape"] for r in runs if r["rows"] == rows))
        cols = [e for e in engines if any(r["engine"] == e and r["rows"] == rows and
                                          r["status"] != "not installed" for r in runs)]
        L += [f"### {rows:,} rows", ""]
        head = ["shape", "formulas"] + [f"{ENGINES[e].label} s" for e in cols]
        head += ["xleval / best Rust"] + (["formulas / xleval"] if "formulas" in cols else [])
        head += [f"{ENGINES[e].label} B/formula" for e in cols]
        head += ["mismatches"]
        L += ["| " + " | ".join(head) + " |",
              "|" + "|".join(["---"] + ["---:"] * (len(head) - 2) + ["---"]) + "|"]
        for shape in shapes:
            by, s = _by(runs, shape, rows), summ[(rows, shape)]
            cells = [shape, f"{s['formulas']:,}"] + [_secs(by.get(e)) for e in cols]
            r1 = s["xleval_vs_best_rust"]
            cells.append(f"{r1:.2f}" if r1 is not None else "-")
            r2 = s["formulas_vs_xleval"]
            if "formulas" in cols:
                cells.append("-" if r2 is None else (">= " if s["formulas_vs_xleval_is_lower_bound"]
                                                     else "") + f"{r2:,.1f}")
            cells += [f"{by[e]['rss_per_formula']:,.0f}" if e in by and by[e]["maxrss_kb"] else "-"
                      for e in cols]
            mm = [f"{ENGINES[e].label} {by[e]['mismatches']}" for e in cols
                  if e in by and by[e]["mismatches"] is not None]
            cells.append(", ".join(mm) or "-")
            L.append("| " + " | ".join(cells) + " |")
        L.append("")
    # linear scaling and stage times of xleval
    sizes = sorted({r["rows"] for r in runs if r["engine"] == "xleval"})
    main_sizes = [n for n in sizes if n in meta["rows"]]
    L += ["### xleval: time per formula", "",
          "| shape | " + " | ".join(f"{n:,} rows us/formula" for n in sizes)
          + (f" | {main_sizes[-1]:,} / {main_sizes[0]:,}" if len(main_sizes) > 1 else "")
          + " | stages at largest size (load / compile / graph / evaluate / write s) |",
          "|---|" + "---:|" * (len(sizes) + (len(main_sizes) > 1)) + "---|"]
    for shape in dict.fromkeys(r["shape"] for r in runs):
        per = {n: summ[(n, shape)]["xleval_us_per_formula"] for n in sizes if (n, shape) in summ}
        cells = [shape] + [f"{per[n]:.1f}" if per.get(n) else "-" for n in sizes]
        if len(main_sizes) > 1:
            a, b = per.get(main_sizes[0]), per.get(main_sizes[-1])
            cells.append(f"{b / a:.2f}" if a and b else "-")
        big = _by(runs, shape, max(n for n in sizes if (n, shape) in summ)).get("xleval")
        st = big.get("stages") if big else None
        cells.append(" / ".join(f"{st.get(k, 0):.2f}" for k in
                                ("load", "compile", "graph", "evaluate", "write")) if st else "-")
        L.append("| " + " | ".join(cells) + " |")
    L.append("")
    bad = [r for r in runs if r["examples"]]
    failed = [r for r in runs if r["status"] in ("error", "skipped")]
    if bad or failed:
        L += ["### Mismatch examples and failures", ""]
        for r in bad:
            ex = "; ".join(f"{e['cell']} xleval {e['xleval']!r} vs {e['engine']!r}"
                           for e in r["examples"][:3])
            L.append(f"* {r['shape']} {r['rows']:,} rows, {ENGINES[r['engine']].label}: "
                     f"{r['mismatches']:,} cells, e.g. {ex}")
        for r in failed:
            L.append(f"* {r['shape']} {r['rows']:,} rows, {ENGINES[r['engine']].label} "
                     f"{'failed' if r['status'] == 'error' else 'skipped'}: {r['error']}")
        L.append("")
    return "\n".join(L)


def write_section(path: pathlib.Path, text: str) -> None:
    """Replace this runner's section of RESULTS.md, or append it; every other section is
    kept as it is."""
    update_sections(path, text)


def _int_list(text: str) -> list[int]:
    try:
        out = [int(x.replace("_", "")) for x in text.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"peers: --rows: expected comma-separated integers, got {text!r}")
    if not out or min(out) < 1:
        raise SystemExit(f"peers: --rows: expected positive integers, got {text!r}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", default="10000", help="sizes for xleval and the Rust engines")
    p.add_argument("--shapes", default=",".join(generate.SHAPES))
    p.add_argument("--formulas-rows", type=int, default=1000, help="size for `formulas`")
    p.add_argument("--formulas-shapes", default="hetero,wide",
                   help="shapes `formulas` runs on (or 'all')")
    p.add_argument("--engines", default=",".join(ENGINES))
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    p.add_argument("--formulas-timeout", type=float, default=300.0)
    p.add_argument("--repeat", type=int, default=1, help="runs per engine and workbook (best)")
    p.add_argument("--max-formulas", type=int, default=2_000_000,
                   help="skip larger workbooks (finance at 100,000 rows has 6 million "
                        "formulas: about 9 GB for xleval)")
    p.add_argument("--out", default=str(HERE / "RESULTS.md"))
    p.add_argument("--json", default=str(HERE / "results" / "peers.json"))
    p.add_argument("--generated", default=str(HERE / "generated" / "peers"))
    p.add_argument("--note", default="", help="a remark for the report (e.g. on machine load)")
    p.add_argument("-v", "--verbose", action="store_true", help="print mismatching cells")
    p.add_argument("--from-json", metavar="PEERS_JSON",
                   help="run nothing: write the RESULTS.md section again from a saved run")
    args = p.parse_args(argv)
    if args.from_json:
        try:
            data = json.loads(pathlib.Path(args.from_json).read_text())
        except (OSError, ValueError) as exc:
            raise SystemExit(f"peers: --from-json: cannot read {args.from_json}: {exc}")
        write_section(pathlib.Path(args.out), render(data))
        print(render(data))
        return 0
    rows = _int_list(args.rows)
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for bad in [s for s in shapes if s not in generate.SHAPES]:
        raise SystemExit(f"peers: unknown shape {bad!r} (one of {', '.join(generate.SHAPES)})")
    for bad in [e for e in engines if e not in ENGINES]:
        raise SystemExit(f"peers: unknown engine {bad!r} (one of {', '.join(ENGINES)})")
    if "xleval" not in engines:
        raise SystemExit("peers: --engines must include xleval (values are compared with it)")
    if args.repeat < 1:
        raise SystemExit("peers: --repeat must be at least 1")
    sizes = sorted(set(rows) | ({args.formulas_rows} if "formulas" in engines else set()))
    meta = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "platform": platform.platform(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "load_start": _load(), "commit": _git(),
            "versions": {e: version(e) for e in ENGINES}, "rows": rows,
            "formulas_rows": args.formulas_rows, "formulas_shapes": args.formulas_shapes,
            "timeout": args.timeout, "formulas_timeout": args.formulas_timeout,
            "repeat": args.repeat, "max_formulas": args.max_formulas, "note": args.note}
    missing = [e for e in engines if not available(e)]
    if missing:
        print(f"not installed, skipped: {', '.join(missing)}")
    # byte-compile xleval first, as installing a wheel does (the peers are installed
    # wheels): an editable install under PYTHONDONTWRITEBYTECODE=1 would otherwise compile
    # every module again in every timed run
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "xleval")],
                   check=False, stdout=subprocess.DEVNULL)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="xleval-peers-") as tmp:
        for n in sizes:
            for shape in shapes:
                # the extra size for `formulas` only covers its shapes
                if n not in rows and args.formulas_shapes != "all" and \
                        shape not in args.formulas_shapes.split(","):
                    continue
                runs += bench_shape(shape, n, engines, args, pathlib.Path(tmp),
                                    pathlib.Path(args.generated))
    meta["load_end"] = _load()
    data = {"meta": meta, "runs": [asdict(r) for r in runs]}
    data["summary"] = summary(data["runs"])
    out_json = pathlib.Path(args.json)
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(data, indent=1) + "\n")
    text = render(data)
    write_section(pathlib.Path(args.out), text)
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
