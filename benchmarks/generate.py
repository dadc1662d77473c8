"""Benchmark workbooks of realistic shapes, at any size.

    python benchmarks/generate.py SHAPE --rows N -o file.xlsx
    python benchmarks/generate.py all [--scale 1.0] [-o benchmarks/generated]

Shapes (`--rows` is the main axis of each):
  wide      3 data sheets of N rows with 6 formula columns copied down (each column reads
            the previous ones) and a Summary sheet of SUM/AVERAGE/SUMPRODUCT/COUNTIF over them
  chain     running totals down N rows: 3 chained columns and one that is not (N layers)
  lookup    an Orders sheet of N rows doing VLOOKUP, INDEX/MATCH and SUMIFS against a
            1,000-row product table
  finance   N line items (revenue / cost / margin triples) projected over 60 months, each
            month from the previous one, with monthly totals
  hetero    N rows x 5 formula columns where no two cells share a shape (distinct
            structures and constants), each column reading the previous: 5 wide layers
  sheets    many small independent sheets (40 rows each, N rows in all) and an index sheet

Sheet XML is written directly and streamed into the zip (no openpyxl), with no cached
values, so a 100,000-formula workbook takes about a second. Filled-down and filled-across
ranges are written as shared formulas, as Excel saves them. Deterministic: the same
arguments give the same bytes.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import random
import sys
import time
import zipfile

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RNS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def col_letter(c: int) -> str:
    s = ""
    while c:
        c, rem = divmod(c - 1, 26)
        s = chr(65 + rem) + s
    return s


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Shared:
    """A cell of a shared formula (how Excel saves a filled-down or filled-across range):
    the anchor carries the text and the range, the other cells only the group id."""
    __slots__ = ("si", "text", "ref")

    def __init__(self, si: int, text: str | None = None, ref: str | None = None):
        self.si, self.text, self.ref = si, text, ref


def filled(si: int, template: str, r: int, first: int, last: int, col: int):
    """Cell (col, r) of `template` (with {r}) filled down from row `first` to `last`."""
    if r == first:
        ref = f"{col_letter(col)}{first}:{col_letter(col)}{last}"
        return Shared(si, template.format(r=r), ref)
    return Shared(si)


class XlsxWriter:
    """A minimal streaming .xlsx writer: numbers, inline strings and formulas (no cached
    values), one sheet at a time."""

    def __init__(self, path: str):
        self.path = path
        self.zf = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
        self.sheets: list[str] = []
        self.formulas = 0

    def sheet(self, name: str, rows):
        """`rows`: iterable of (row number, [(col, value)]) where a value is a float/int,
        a str (text), a str starting with '=' (a formula) or a Shared formula cell."""
        self.sheets.append(name)
        idx = len(self.sheets)
        max_r = max_c = 1
        with self.zf.open(f"xl/worksheets/sheet{idx}.xml", "w") as fh:
            fh.write(f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                     f'<worksheet xmlns="{NS}" xmlns:r="{RNS}"><sheetData>'.encode())
            buf = []
            for r, cells in rows:
                parts = [f'<row r="{r}">']
                for c, v in cells:
                    ref = f"{col_letter(c)}{r}"
                    if isinstance(v, Shared):
                        if v.text is None:
                            parts.append(f'<c r="{ref}"><f t="shared" si="{v.si}"/></c>')
                        else:
                            parts.append(f'<c r="{ref}"><f t="shared" ref="{v.ref}" si="{v.si}">'
                                         f'{_esc(v.text)}</f></c>')
                        self.formulas += 1
                    elif isinstance(v, str):
                        if v.startswith("="):
                            parts.append(f'<c r="{ref}"><f>{_esc(v[1:])}</f></c>')
                            self.formulas += 1
                        else:
                            parts.append(f'<c r="{ref}" t="inlineStr"><is><t>{_esc(v)}</t></is></c>')
                    else:
                        parts.append(f'<c r="{ref}"><v>{v!r}</v></c>')
                    if c > max_c:
                        max_c = c
                parts.append("</row>")
                max_r = max(max_r, r)
                buf.append("".join(parts))
                if len(buf) >= 512:
                    fh.write("".join(buf).encode())
                    buf.clear()
            fh.write("".join(buf).encode())
            fh.write(b"</sheetData></worksheet>")

    def close(self) -> None:
        zf = self.zf
        n = len(self.sheets)
        ct = "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
                     f'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                     for i in range(1, n + 1))
        zf.writestr("[Content_Types].xml",
                    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-'
                    'package.relationships+xml"/><Default Extension="xml" ContentType="'
                    'application/xml"/><Override PartName="/xl/workbook.xml" ContentType="'
                    'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                    f'{ct}</Types>')
        zf.writestr("_rels/.rels",
                    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                    'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats'
                    '.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
                    '</Relationships>')
        sheets = "".join(f'<sheet name="{_esc(name)}" sheetId="{i}" r:id="rId{i}"/>'
                         for i, name in enumerate(self.sheets, 1))
        zf.writestr("xl/workbook.xml",
                    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    f'<workbook xmlns="{NS}" xmlns:r="{RNS}"><sheets>{sheets}</sheets>'
                    f'<calcPr calcId="191029" fullCalcOnLoad="1"/></workbook>')
        rels = "".join(f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/'
                       f'officeDocument/2006/relationships/worksheet" '
                       f'Target="worksheets/sheet{i}.xml"/>' for i in range(1, n + 1))
        zf.writestr("xl/_rels/workbook.xml.rels",
                    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                    f'relationships">{rels}</Relationships>')
        zf.close()


# ----------------------------------------------------------------------------------------
# shapes
# ----------------------------------------------------------------------------------------
def wide(w: XlsxWriter, rows: int) -> None:
    rnd = random.Random(1)
    names = ["Sales North", "Sales South", "Sales West"]
    for name in names:
        def gen():
            yield 1, [(c, h) for c, h in enumerate(
                ["Id", "Qty", "Price", "Discount", "Gross", "Net", "Tiered", "Taxed",
                 "Margin", "Score"], 1)]
            last = rows + 1
            cols = ["=B{r}*C{r}", "=E{r}*(1-D{r})", "=IF(F{r}>500,F{r}*0.95,F{r})",
                    "=ROUND(G{r}*1.2,2)", "=H{r}-E{r}*0.6+ABS(F{r}-G{r})",
                    "=MAX(I{r},0)/(1+D{r})+MIN(B{r},10)"]
            for r in range(2, last + 1):
                yield r, [(1, r - 1), (2, rnd.randint(1, 40)), (3, round(rnd.uniform(5, 80), 2)),
                          (4, round(rnd.uniform(0, 0.3), 3))] + \
                    [(5 + i, filled(i, t[1:], r, 2, last, 5 + i)) for i, t in enumerate(cols)]
        w.sheet(name, gen())

    def summary():
        yield 1, [(1, "Sheet"), (2, "Gross"), (3, "Net"), (4, "Avg taxed"), (5, "Weighted"),
                  (6, "Big orders")]
        last = rows + 1
        for i, name in enumerate(names, 2):
            q = f"'{name}'"
            yield i, [(1, name), (2, f"=SUM({q}!E2:E{last})"), (3, f"=SUM({q}!F2:F{last})"),
                      (4, f"=AVERAGE({q}!H2:H{last})"),
                      (5, f"=SUMPRODUCT({q}!B2:B{last},{q}!J2:J{last})"),
                      (6, f'=COUNTIF({q}!G2:G{last},">500")')]
        n = len(names) + 1
        yield n + 1, [(1, "Total"), (2, f"=SUM(B2:B{n})"), (3, f"=SUM(C2:C{n})"),
                      (4, f"=AVERAGE(D2:D{n})"), (5, f"=SUM(E2:E{n})"), (6, f"=SUM(F2:F{n})")]
    w.sheet("Summary", summary())


def chain(w: XlsxWriter, rows: int) -> None:
    rnd = random.Random(2)

    def gen():
        yield 1, [(1, "Amount"), (2, "Running"), (3, "Smoothed"), (4, "Peak"), (5, "Gap")]
        yield 2, [(1, 100.0), (2, "=A2"), (3, "=B2"), (4, "=C2"), (5, "=B2-C2")]
        last = rows + 1
        cols = ["B{rp}+A{r}", "C{rp}*0.9+B{r}*0.1", "MAX(D{rp},C{r})", "B{r}-C{r}"]
        for r in range(3, last + 1):
            yield r, [(1, round(rnd.uniform(-50, 120), 2))] + \
                [(2 + i, filled(i, t.replace("{rp}", str(r - 1)) if r == 3 else t, r, 3, last, 2 + i))
                 for i, t in enumerate(cols)]
    w.sheet("Ledger", gen())


def lookup(w: XlsxWriter, rows: int, table_rows: int = 1000) -> None:
    rnd = random.Random(3)
    last = table_rows + 1

    def table():
        yield 1, [(1, "Key"), (2, "Code"), (3, "Price"), (4, "Category")]
        for r in range(2, last + 1):
            yield r, [(1, r - 1), (2, f"P{r - 1:05d}"), (3, round(rnd.uniform(1, 500), 2)),
                      (4, f"Cat{(r * 7) % 20:02d}")]
    w.sheet("Products", table())

    def orders():
        yield 1, [(1, "Order"), (2, "Key"), (3, "Qty"), (4, "Price"), (5, "Category"),
                  (6, "Amount"), (7, "Cat total"), (8, "Code")]
        end = rows + 1
        cols = [f"VLOOKUP(B{{r}},Products!$A$2:$D${last},3,FALSE)",
                f"INDEX(Products!$D$2:$D${last},MATCH(B{{r}},Products!$A$2:$A${last},0))",
                "C{r}*D{r}",
                f"SUMIFS(Products!$C$2:$C${last},Products!$D$2:$D${last},E{{r}})",
                f"INDEX(Products!$B$2:$B${last},B{{r}})"]
        for r in range(2, end + 1):
            yield r, [(1, r - 1), (2, rnd.randint(1, table_rows)), (3, rnd.randint(1, 12))] + \
                [(4 + i, filled(i, t, r, 2, end, 4 + i)) for i, t in enumerate(cols)]
    w.sheet("Orders", orders())


def finance(w: XlsxWriter, rows: int, months: int = 60) -> None:
    rnd = random.Random(4)
    items = max(1, rows // 3)

    def gen():
        yield 1, [(1, "Growth / ratio"), (2, "Base")] + [(2 + m, m) for m in range(1, months + 1)]
        r = 2
        si = 0
        last_col = col_letter(2 + months)

        def across(text, row, first_m):
            """Months first_m..months of `text` (written for month first_m) filled across."""
            nonlocal si
            si += 1
            ref = f"{col_letter(2 + first_m)}{row}:{last_col}{row}"
            return [(2 + m, Shared(si, text, ref) if m == first_m else Shared(si))
                    for m in range(first_m, months + 1)]
        for _ in range(items):
            # revenue: from the previous month; cost: a share of revenue; margin
            yield r, ([(1, round(rnd.uniform(-0.01, 0.03), 4)), (2, round(rnd.uniform(1e3, 1e5), 2)),
                       (3, f"=B{r}*(1+A{r})")] +
                      across(f"C{r}*(1+$A{r})+SIN(D$1)*$B{r}*0.01", r, 2))
            yield r + 1, ([(1, round(rnd.uniform(0.3, 0.7), 3)), (3, f"=C{r}*$A{r + 1}")] +
                          across(f"D{r}*$A{r + 1}+C{r + 1}*0.02", r + 1, 2))
            yield r + 2, across(f"ROUND(C{r}-C{r + 1},2)", r + 2, 1)
            r += 3
        yield r, [(1, "Total margin")] + across(f"SUM(C2:C{r - 1})", r, 1)
    w.sheet("Projection", gen())


_HETERO = [
    "{a}*{k1}+SIN({b})*{k2}",
    "IF({b}>{k1},{a}/{k2},{b}*{k3})",
    "ROUND({a}*{k1},2)+EXP(-ABS({b})/{k2})",
    "SQRT(ABS({a}-{k1}))+MOD(ABS({b}),{k2})",
    "MAX({a},{k1})-MIN({b},{k2})*{k3}",
    "({a}+{k1})/({k2}+ABS({b}))-COS({a}/{k3})",
    "LN(ABS({a})+{k1})*{k2}+{b}^2/{k3}",
    "IF(AND({a}>{k1},{b}<{k2}),{a}-{b},{a}+{b}*{k3})",
    "INT({a}/{k1})+ROUND({b}*{k2},1)-{k3}",
    "POWER(ABS({b})+1,1/{k1})*{a}+{k2}",
]


def hetero(w: XlsxWriter, rows: int, cols: int = 5) -> None:
    """No two formula cells share a shape: each uses one of several structures with
    constants unique to the cell."""
    rnd = random.Random(5)

    def gen():
        yield 1, [(1, "x"), (2, "y")] + [(2 + j, f"f{j}") for j in range(1, cols + 1)]
        for r in range(2, rows + 2):
            cells = [(1, round(rnd.uniform(-100, 100), 3)), (2, round(rnd.uniform(0.5, 50), 3))]
            for j in range(1, cols + 1):
                # inputs: the two columns to the left (the first formula column reads A, B)
                a = f"{col_letter(j + 1)}{r}" if j > 1 else f"A{r}"
                b = f"{col_letter(j)}{r}" if j > 2 else f"B{r}"
                t = _HETERO[(r * 7 + j * 3) % len(_HETERO)]
                k = (r * cols + j)
                text = t.format(a=a, b=b, k1=f"{1 + k % 97}.{k}", k2=f"{2 + k % 89}.{k % 1000}",
                                k3=f"{3 + k % 83}.{k % 991}")
                cells.append((2 + j, "=" + text))
            yield r, cells
    w.sheet("Model", gen())


def sheets(w: XlsxWriter, rows: int, per_sheet: int = 40) -> None:
    rnd = random.Random(6)
    n = max(1, rows // per_sheet)
    names = [f"Unit{i:04d}" for i in range(1, n + 1)]
    for name in names:
        def gen():
            yield 1, [(1, "Qty"), (2, "Rate"), (3, "Value"), (4, "Adjusted"), (5, "Share"),
                      (6, "Rounded")]
            last = per_sheet + 1
            cols = ["A{r}*B{r}", "C{r}*1.1+B{r}", "D{r}/(1+A{r})", "ROUND(E{r},2)"]
            for r in range(2, last + 1):
                yield r, [(1, rnd.randint(1, 100)), (2, round(rnd.uniform(0.5, 3), 3))] + \
                    [(3 + i, filled(i, t, r, 2, last, 3 + i)) for i, t in enumerate(cols)]
            yield last + 1, [(3, f"=SUM(C2:C{last})"), (6, f"=SUM(F2:F{last})")]
        w.sheet(name, gen())

    def index():
        for i, name in enumerate(names, 1):
            yield i, [(1, name), (2, f"='{name}'!F{per_sheet + 2}")]
    w.sheet("Index", index())


SHAPES = {"wide": wide, "chain": chain, "lookup": lookup, "finance": finance,
          "hetero": hetero, "sheets": sheets}

# sizes for `all`, chosen so every workbook calculates serially in a few seconds here;
# hetero is the 100,000-formula target workbook
DEFAULT_ROWS = {"wide": 10000, "chain": 20000, "lookup": 10000, "finance": 1500,
                "hetero": 20000, "sheets": 16000}


def generate(shape: str, rows: int, out: str) -> int:
    """Write one workbook; returns the number of formulas."""
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    w = XlsxWriter(tmp)
    try:
        SHAPES[shape](w, rows)
        w.close()
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return w.formulas


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("shape", choices=[*SHAPES, "all"])
    p.add_argument("--rows", type=int, help="size along the main axis (default per shape)")
    p.add_argument("--scale", type=float, default=1.0, help="`all`: multiply default sizes")
    p.add_argument("-o", "--output", help="file (one shape) or folder (`all`)")
    args = p.parse_args(argv)
    if args.shape == "all":
        folder = pathlib.Path(args.output or pathlib.Path(__file__).parent / "generated")
        for shape in SHAPES:
            rows = args.rows or max(1, int(DEFAULT_ROWS[shape] * args.scale))
            out = folder / f"{shape}_{rows}.xlsx"
            t0 = time.perf_counter()
            n = generate(shape, rows, str(out))
            print(f"{out}  {n} formulas  {time.perf_counter() - t0:.2f}s")
        return 0
    rows = args.rows or DEFAULT_ROWS[args.shape]
    out = args.output or f"{args.shape}_{rows}.xlsx"
    t0 = time.perf_counter()
    n = generate(args.shape, rows, out)
    print(f"{out}  {n} formulas  {time.perf_counter() - t0:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
