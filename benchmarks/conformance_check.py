"""In-process conformance run over ../shared/conformance, for developers: faster than
score.py's one-process-per-workbook run and it lists mismatches by function.

    python benchmarks/conformance_check.py [--only TEXT] [--function NAME] [-v] [--json OUT]

It strips Excel's cached results from a temporary copy of each workbook (with score.py's own
function), recalculates it with xleval and compares every scored cell with score.py's rules.
The authoritative figure is score.py with the CLI (see tests/test_conformance.py)."""
from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import pathlib
import signal
import sys
import tempfile
import time
import traceback

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONF = ROOT.parent / "shared" / "conformance"
sys.path.insert(0, str(ROOT))


def load_score():
    spec = importlib.util.spec_from_file_location("xleval_score", CONF / "score.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def canon(v):
    """Our value in score.py's canonical form."""
    from xleval.values import XLError
    if v is None:
        return None
    if isinstance(v, bool):
        return ("b", v)
    if isinstance(v, (int, float)):
        return ("n", float(v))
    if isinstance(v, XLError):
        return ("e", v.code)
    return ("s", str(v))


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def check_workbook(score, path: str, timeout: int = 60):
    import xleval
    cells, stats = score.formula_cells(path)
    res = {"path": path, "scored": sum(len(v) for v in cells.values()), "matched": 0,
           "status": "ok", "mismatches": [], "seconds": 0.0}
    with tempfile.TemporaryDirectory() as td:
        inp = os.path.join(td, "in" + os.path.splitext(path)[1])
        score.strip_cached_values(path, inp)
        t0 = time.perf_counter()
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(timeout)
        try:
            wb = xleval.load(inp)
            wb.calculate()
            got_all = wb.formula_values()
        except _Timeout:
            res["status"] = "timeout"
            return res
        except Exception as e:  # noqa: BLE001
            res["status"] = f"crash: {type(e).__name__}: {e}"
            res["trace"] = traceback.format_exc()
            return res
        finally:
            signal.alarm(0)
        res["seconds"] = time.perf_counter() - t0
    lower = {k.lower(): v for k, v in got_all.items()}
    for sheet, d in cells.items():
        got_sheet = got_all.get(sheet) or lower.get(sheet.lower()) or {}
        for (r, c), (formula, expected) in d.items():
            got = canon(got_sheet.get((r, c)))
            if score.values_equal(expected, got):
                res["matched"] += 1
            else:
                res["mismatches"].append({
                    "sheet": sheet, "cell": score.cell_name(r, c), "formula": formula,
                    "function": score.first_function(formula),
                    "expected": score.show_value(expected), "got": score.show_value(got)})
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", help="keep workbooks whose path contains this text")
    ap.add_argument("--function", help="list mismatches of this first function only")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every mismatch")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--timeout", type=int, default=60)
    ap.add_argument("--top", type=int, default=40, help="functions to list")
    args = ap.parse_args(argv)
    if not (CONF / "MANIFEST.tsv").is_file():
        print("conformance corpus not found at", CONF)
        return 1
    score = load_score()
    rows = score.load_manifest(str(CONF / "MANIFEST.tsv"))
    results = []
    by_func = collections.Counter()
    total = matched = 0
    for rel, _ in rows:
        if args.only and args.only not in rel:
            continue
        path = str(CONF / rel)
        res = check_workbook(score, path, args.timeout)
        res["path"] = rel
        results.append(res)
        total += res["scored"]
        if res["status"] == "ok":
            matched += res["matched"]
        for m in res["mismatches"]:
            by_func[m["function"]] += 1
        if res["status"] != "ok":
            by_func["(workbook failed)"] += res["scored"]
        pct = 100.0 * res["matched"] / res["scored"] if res["scored"] else 100.0
        if res["status"] != "ok" or pct < 100:
            print(f"{pct:6.1f}% {res['matched']:>6}/{res['scored']:<6} {res['seconds']:6.2f}s "
                  f"{res['status'][:80]:<8} {rel}")
        if args.verbose or args.function:
            for m in res["mismatches"]:
                if args.function and m["function"].upper() != args.function.upper():
                    continue
                print(f"      {m['sheet']}!{m['cell']}  ={m['formula'][:100]}  "
                      f"excel={m['expected'][:40]}  got={m['got'][:40]}")
    print()
    print(f"matched {matched}/{total} = {100.0 * matched / max(total, 1):.2f}% over "
          f"{len(results)} workbooks; failed: "
          f"{sum(1 for r in results if r['status'] != 'ok')}")
    print("wrong cells by first function:")
    for f, n in by_func.most_common(args.top):
        print(f"  {f:<28} {n}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"matched": matched, "total": total, "results": results}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
