"""The `xleval` command line. Every failure is one line on stderr and a non-zero exit code
(2: bad input or arguments, 3: internal error, 130: interrupted); set XLEVAL_DEBUG=1 for
tracebacks."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time

from .errors import XlevalError

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


def _err(msg: str) -> None:
    print(f"xleval: {msg}", file=sys.stderr)


def error_message(exc: BaseException) -> tuple[int, str]:
    """The exit status and one-line message for a failure (the CLI prints it after
    'xleval: '; `xleval serve` answers it as {"error": ...})."""
    if isinstance(exc, XlevalError):
        return EXIT_BAD_INPUT, str(exc)
    if isinstance(exc, MemoryError):
        return EXIT_INTERNAL, "out of memory"
    return EXIT_INTERNAL, (f"internal error: {type(exc).__name__}: {exc} "
                           "(set XLEVAL_DEBUG=1 for details)")


def _parse_now(text: str | None):
    from .dates import parse_now
    return parse_now(text, "--now")


def _fmt_value(v) -> str:
    from .values import XLError, num_to_text
    if v is None:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return repr(v) if v != int(v) or abs(v) >= 1e15 else num_to_text(v)
    if isinstance(v, XLError):
        return v.code
    return str(v)


def _summary(wb, path: str, out: str | None, seconds: float) -> str:
    rep = wb.report
    lines = [f"workbook   {path}"]
    lines.append(f"formulas   {rep.formulas} cells, {rep.shapes} distinct shapes, "
                 f"{rep.layers} layers")
    if rep.errors:
        errs = ", ".join(f"{k} {v}" for k, v in rep.errors.items())
        lines.append(f"errors     {sum(rep.errors.values())} cells ({errs})")
    else:
        lines.append("errors     none")
    if rep.cycles:
        shown = "; ".join(", ".join(c[:4]) + (" ..." if len(c) > 4 else "")
                          for c in rep.cycles[:3])
        more = f" (+{len(rep.cycles) - 3} more)" if len(rep.cycles) > 3 else ""
        mode = "iterated" if wb.data.calc.iterate else "set to 0 (iterative calculation is off)"
        lines.append(f"cycles     {len(rep.cycles)}, {mode}: {shown}{more}")
    else:
        lines.append("cycles     none")
    if rep.unsupported:
        lines.append("unsupported " + ", ".join(f"{k} ({v} cells)" for k, v in
                                               rep.unsupported.items()))
    if rep.kept_cached:
        lines.append(f"cached     {rep.kept_cached} cells kept Excel's cached value "
                     "(--unknown cached): " + ", ".join(
                         f"{k} ({v} cells)" for k, v in rep.kept_functions.items()))
    if rep.parse_errors:
        first = rep.parse_errors[0]
        text = first[1] if len(first[1]) <= 80 else first[1][:77] + "..."
        lines.append(f"unparsed   {len(rep.parse_errors)} formulas, e.g. {first[0]} {text}: "
                     f"{first[2]}")
    for w in rep.warnings[:5]:
        lines.append(f"warning    {w}")
    t = rep.timings
    stages = " ".join(f"{k} {t[k]:.3f}s" for k in ("load", "compile", "graph", "evaluate",
                                                   "write") if k in t)
    lines.append(f"time       {stages} (total {seconds:.3f}s)")
    if out:
        lines.append(f"output     {out}")
    return "\n".join(lines)


class _Progress:
    """A one-line progress bar on stderr for long runs (only when stderr is a terminal)."""

    def __init__(self, total: int):
        self.total = max(total, 1)
        self.done = 0
        self.last = -1

    def __call__(self, n: int) -> None:
        self.done += n
        pct = min(100, int(100 * self.done / self.total))
        if pct != self.last:
            self.last = pct
            bar = "#" * (pct // 4)
            sys.stderr.write(f"\r  evaluating [{bar:<25}] {pct:3d}%")
            sys.stderr.flush()

    def close(self) -> None:
        if self.last >= 0:
            sys.stderr.write("\r" + " " * 50 + "\r")
            sys.stderr.flush()


def check_destinations(inputs: list[str], named: dict[str, str | None]) -> None:
    """Every destination a command was given (`named`: option -> path, None when not
    given), checked before anything runs: named at all ('' is no file), writable, and
    neither an input nor another destination (a report over the workbook it reports on
    would replace it)."""
    from .writer.xlsx import check_destination
    seen: dict[str, str] = {}
    ins = {os.path.realpath(p) for p in inputs if p}
    for opt, dst in named.items():
        if dst is None:
            continue
        if dst == "":
            raise XlevalError(f"{opt}: no file named (an empty path)")
        check_destination(dst)
        real = os.path.realpath(dst)
        if real in ins:
            raise XlevalError(f"{dst}: refusing to write {opt} over an input")
        if real in seen:
            raise XlevalError(f"{dst}: given to both {seen[real]} and {opt}")
        seen[real] = opt


def output_paths(args) -> list[str | None]:
    """The output path of each input of `calc`, checked before anything is loaded (a typo
    in -o must not cost the calculation). One input: -o is a file; several: -o is a
    directory (created if needed) and each output is named after its input (.csv/.json
    with --format csv/json). --report's file is checked too."""
    if args.output == "":
        raise XlevalError("-o: no file named (an empty path)")
    if args.format is not None and not args.output and not args.in_place:
        raise XlevalError(f"--format {args.format}: name the output with -o")
    made = (len(args.input) > 1 and bool(args.output) and not args.in_place
            and not os.path.isdir(args.output))
    outs = _output_paths(args)              # (several inputs: creates the folder)
    named = {f"-o ({src})": out for src, out in zip(args.input, outs)
             if out is not None and not args.in_place}
    named["--report"] = args.report
    try:
        check_destinations(args.input, named)
    except XlevalError:
        if made:                            # leave no empty folder behind
            with contextlib.suppress(OSError):
                os.rmdir(args.output)
        raise
    return outs


def _output_paths(args) -> list[str | None]:
    inputs = args.input
    if args.in_place:
        if args.output:
            raise XlevalError("--in-place and -o exclude each other")
        if args.format not in (None, "xlsx"):
            raise XlevalError("--in-place writes workbooks; it cannot be used with --format "
                              f"{args.format}")
        return list(inputs)
    if not args.output:
        return [None] * len(inputs)
    if len(inputs) == 1:
        out = args.output
        if output_format(out, args.format) == "xlsx":
            if os.path.splitext(out)[1].lower() not in (".xlsx", ".xlsm"):
                raise XlevalError(f"{out}: output must end in .xlsx or .xlsm for --format xlsx")
            if os.path.abspath(out) == os.path.abspath(inputs[0]):
                raise XlevalError(f"{out}: refusing to overwrite the input; use --in-place")
        return [out]
    outdir = args.output
    looks_like_file = os.path.splitext(outdir)[1].lower() in (".xlsx", ".xlsm", ".csv", ".json")
    if (os.path.exists(outdir) or looks_like_file) and not os.path.isdir(outdir):
        raise XlevalError(f"{outdir}: with several inputs, -o must be a directory")
    fmt = args.format or "xlsx"
    outs, seen = [], {}
    for src in inputs:
        stem, ext = os.path.splitext(os.path.basename(src))
        if fmt == "xlsx" and ext.lower() not in (".xlsx", ".xlsm"):
            raise XlevalError(f"{src}: its output would be named {stem + ext} in {outdir}, not "
                              ".xlsx/.xlsm: rename it, or use --format csv or json")
        dst = os.path.join(outdir, stem + (ext if fmt == "xlsx" else "." + fmt))
        if dst in seen:
            raise XlevalError(f"{src} and {seen[dst]} would both be written to {dst}")
        if fmt == "xlsx" and os.path.abspath(dst) == os.path.abspath(src):
            raise XlevalError(f"{dst}: refusing to overwrite the input; use --in-place")
        seen[dst] = src
        outs.append(dst)
    try:
        os.makedirs(outdir, exist_ok=True)
    except OSError as e:
        raise XlevalError(f"{outdir}: cannot create the output directory: "
                          f"{e.strerror or e}") from None
    return outs


def output_format(out: str | None, fmt: str | None) -> str | None:
    """--format, else the output's extension (.csv, .json; anything else: xlsx)."""
    if out is None:
        return None
    return fmt or {".csv": "csv", ".json": "json"}.get(os.path.splitext(out)[1].lower(), "xlsx")


def _cell_refs(args) -> list[str]:
    """--cells as a list, unqualified references on --sheet."""
    refs = [x.strip() for x in (args.cells or "").split(",") if x.strip()]
    return [f"{args.sheet}!{r}" if "!" not in r and args.sheet else r for r in refs]


def cmd_calc(args) -> int:
    from .forking import MAX_WORKERS, workers_ok
    if args.workers is not None and not workers_ok(args.workers):
        raise XlevalError(f"--workers: from 1 to {MAX_WORKERS}, not {args.workers}")
    if len(args.input) > 1 or args.executor == "dask" or args.scheduler:
        from .distributed import calc_many     # many workbooks, or one on a Dask cluster
        return calc_many(args)
    out = output_paths(args)[0]
    fmt = output_format(out, args.format)
    args.input = args.input[0]
    import xleval
    # A one-shot process holding millions of long-lived objects: the cyclic collector would
    # only rescan them (one pass after each gc-free stage cost seconds on 50k formulas).
    import gc
    gc.disable()
    t0 = time.perf_counter()
    now = _parse_now(args.now)
    # large sheets are read, and later written, by as many processes as calculate
    if args.strategy == "serial":
        io_workers = 1
    else:
        from .scheduler.base import default_workers
        io_workers = max(1, args.workers or default_workers())
    wb = xleval.load(args.input, now=now, links=args.links, links_dir=args.links_dir,
                     link_timeout=args.link_timeout, workers=io_workers,
                     unknown=args.unknown)
    # what a bad --sheet or --cells would only find after the calculation
    refs = _cell_refs(args)
    if args.sheet:
        wb._sheet(args.sheet)               # (ReferenceError_: no sheet named ...)
    for ref in refs:
        wb._locate(ref)
    bar = None
    if sys.stderr.isatty() and not args.quiet:
        n = sum(len(sd.formulas) for sd in wb.data.sheets)
        if n >= 20000:
            bar = wb.engine.progress = _Progress(n)
    try:
        wb.calculate(strategy=args.strategy, workers=args.workers)
    finally:
        if bar is not None:
            bar.close()
    # a one-shot run: what only calculating needs is freed before the write, which then
    # reuses that memory instead of growing the process
    wb.release_compiled()
    if out:
        t1 = time.perf_counter()
        if fmt == "xlsx":
            wb.save(out, in_place=args.in_place, workers=io_workers)
        elif fmt == "csv":
            wb.to_csv(out, args.sheet)
        elif fmt == "json":
            if args.sheet:
                from .writer.tabular import write_json
                write_json({args.sheet: wb.sheet_values(args.sheet)}, out)
            else:
                wb.to_json(out)
        wb.report.timings["write"] = time.perf_counter() - t1
    if refs:
        for ref in refs:
            v = wb[ref]
            if isinstance(v, list):
                for row in v:
                    print(f"{ref}\t" + "\t".join(_fmt_value(x) for x in row))
            else:
                print(f"{ref}\t{_fmt_value(v)}")
    if not args.quiet:
        text = _summary(wb, args.input, out, time.perf_counter() - t0)
        print(text, file=sys.stderr if args.cells else sys.stdout)
    if args.report:
        rep = wb.report
        from .writer.xlsx import atomic_output
        data = rep.to_json(args.input)
        with atomic_output(args.report) as fh:
            fh.write(json.dumps(data, indent=2).encode("utf-8"))
    return 0


def cmd_bench(args) -> int:
    from .bench import bench, format_table, plot, write_json

    def ints(text):
        try:
            return tuple(int(x) for x in text.split(",") if x.strip())
        except ValueError:
            raise XlevalError(f"--workers: expected numbers like 1,2,4, not {text!r}") from None
    strategies = tuple(x.strip() for x in args.strategies.split(",") if x.strip())
    workers = ints(args.workers)
    if not workers or not strategies:
        raise XlevalError("--strategies and --workers: name at least one each")
    check_destinations([args.input], {"--json": args.json, "--plot": args.plot})
    if args.plot:                            # before the runs, not after them
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise XlevalError("--plot needs matplotlib: pip install 'xleval[plot]'") from None
    data = bench(args.input, strategies=strategies, workers=workers,
                 repeat=args.repeat, per_sheet=not args.no_sheets,
                 log=(lambda m: print(m, file=sys.stderr)) if args.verbose else None)
    print(format_table(data), end="")
    if args.json:
        write_json(data, args.json)
    if args.plot:
        plot(data, args.plot)
    return 0


def cmd_graph(args) -> int:
    import xleval
    check_destinations([args.input], {"--dot": args.dot})
    wb = xleval.load(args.input)
    stats = wb.graph_stats()
    if args.dot:
        _write_dot(wb, args.dot)
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    print(f"workbook      {args.input}")
    print(f"formulas      {stats['formulas']} cells, {stats['shapes']} distinct shapes")
    print(f"graph         {stats['edges']} edges, {stats['block_nodes']} range blocks, "
          f"{stats['dynamic_cells']} cells with dynamic references")
    widths = stats["layer_widths"]
    if widths:
        print(f"layers        {len(widths)} (widest {max(widths)}, "
              f"median {sorted(widths)[len(widths) // 2]})")
    else:
        print("layers        0")
    print(f"longest chain {stats['longest_chain']}")
    print(f"cycles        {len(stats['cycles'])}" + (
        ": " + "; ".join(", ".join(c[:5]) for c in stats["cycles"][:5]) if stats["cycles"]
        else ""))
    print()
    print(f"{'sheet':<30} {'formulas':>9} {'shapes':>7} {'layers':>7} {'widest':>7} "
          f"{'chain':>6} {'cycles':>6}")
    for name, s in stats["sheets"].items():
        print(f"{name[:30]:<30} {s['formulas']:>9} {s['shapes']:>7} {s['layers']:>7} "
              f"{s['max_width']:>7} {s['longest_chain']:>6} {s['cycles']:>6}")
    return 0


UNKNOWN_HELP = ("formulas calling a function xleval cannot evaluate (VBA or add-in functions, "
                "WEBSERVICE, cube functions...): name gives #NAME? like Excel without the "
                "add-in (default); cached keeps the value Excel cached for them and "
                "recalculates their dependents from it")


def cmd_check(args) -> int:
    import xleval
    from .check import check
    check_destinations([args.input], {"--json": args.json})
    if args.limit < 0:
        raise XlevalError(f"--limit: expected 0 or more, not {args.limit}")
    wb = xleval.load(args.input, now=_parse_now(args.now), unknown=args.unknown)
    rep = check(wb)
    if args.json:
        from .writer.xlsx import atomic_output
        with atomic_output(args.json) as fh:
            fh.write(json.dumps(rep.to_dict(), indent=2, ensure_ascii=False).encode("utf-8"))
    print(f"workbook   {args.input}")
    print("functions used (before computing):")
    print(f"  {'function':<24} {'cells':>7}  source")
    for row in rep.coverage:
        flag = " (volatile)" if row["volatile"] else ""
        print(f"  {row['function']:<24} {row['cells']:>7}  {row['source']}{flag}")
    print(f"compared   {rep.compared} cells with Excel's cached values: {rep.matched} match "
          f"({rep.match_pct:.2f}%)" + (f"; {rep.no_cache} formula cells had no cached value"
                                       if rep.no_cache else ""))
    if rep.kept_cached:
        print(f"kept       {rep.kept_cached} cells kept Excel's cached value (--unknown "
              "cached): not compared")
    if rep.by_kind:
        print("differences " + ", ".join(f"{k} {v}" for k, v in rep.by_kind.items()))
        shown = rep.differences[: args.limit]
        for d in shown:
            print(f"  [{d.kind}] {d.cell} {d.formula[:80]}  excel={_fmt_value(d.excel)}  "
                  f"xleval={_fmt_value(d.xleval)}")
        if len(rep.differences) > len(shown):
            print(f"  ... {len(rep.differences) - len(shown)} more (use --json for all)")
    else:
        print("differences none")
    return 1 if rep.by_kind.get("real") else 0


def cmd_links(args) -> int:
    import xleval
    from .links import check_settings, list_links
    if args.limit < 1:
        raise XlevalError(f"--limit: expected 1 or more, not {args.limit}")
    check_settings(args.links_dir)
    wb = xleval.load(args.input)
    rows = list_links(wb, args.links_dir, limit=args.limit)
    if args.json:
        print(json.dumps({"workbook": args.input, "links": rows}, indent=2,
                         ensure_ascii=False))
        return 0
    print(f"workbook   {args.input}")
    if not rows:
        print("links      none")
        return 0
    print(f"{'link':<6} {'status':<11} {'cells':>6}  target -> resolved path")
    for r in rows:
        dest = r["resolved"] or "-"
        print(f"[{r['index']}]".ljust(6) + f" {r['status']:<11} {r['cells']:>6}  "
              f"{r['target'] or '(none)'} -> {dest}")
        if r["reason"]:
            print(f"{'':<27}{r['reason']}")
        if r["first_cells"]:
            more = f" ... (+{r['cells'] - len(r['first_cells'])})" \
                if r["cells"] > len(r["first_cells"]) else ""
            print(f"{'':<27}used by {', '.join(r['first_cells'])}{more}")
    return 0


def cmd_functions(args) -> int:
    from .functions.catalog import coverage
    rows = coverage()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["source"]] = counts.get(r["source"], 0) + 1
    print(f"{'function':<28} {'category':<20} source")
    for r in rows:
        vol = " (volatile)" if r.get("volatile") else ""
        print(f"{r['name']:<28} {r['category']:<20} {r['source']}{vol}")
    print()
    print(f"{len(rows)} Excel functions: " + ", ".join(f"{v} {k}" for k, v in
                                                      sorted(counts.items())))
    return 0


def cmd_serve(args) -> int:
    import math
    for opt, v in (("--timeout", args.timeout), ("--max-upload-mb", args.max_upload_mb)):
        if not math.isfinite(v):
            raise XlevalError(f"{opt}: expected a finite number, not {v}")
    try:
        from .service import Settings, serve
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise XlevalError(f"xleval serve needs the service extra ({e.name} is missing): "
                          "pip install 'xleval[service]'") from None
    settings = Settings(host=args.host, port=args.port,
                        workers=Settings().workers if args.workers is None else args.workers,
                        timeout=args.timeout, max_queue=args.max_queue,
                        max_upload_bytes=int(args.max_upload_mb * 2**20),
                        max_cells=args.max_cells, max_models=args.max_models,
                        max_scenarios=args.max_scenarios,
                        access_log=not args.no_access_log).validate()
    _check_bind(args.host, args.port)
    serve(settings)
    return 0



def _check_bind(host: str, port: int) -> None:
    """Bind the address once before the server starts: a port in use or a host that is
    not this machine's is one line here, not uvicorn's log and exit status 3."""
    import socket
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise XlevalError(f"--host {host}: cannot resolve it ({e})") from None
    family, kind, proto, _name, addr = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError as e:
            raise XlevalError(f"{host}:{port}: cannot listen there "
                              f"({e.strerror or e})") from None


def _write_dot(wb, path: str) -> None:
    """Graphviz DOT of the plan: one node per work unit (shape x layer), edges by layer."""
    from .writer.xlsx import atomic_output
    plan = wb.graph()
    ev = wb.engine
    lines = ["digraph xleval {", "  rankdir=LR;", "  node [shape=box, fontsize=10];"]
    for li, layer in enumerate(plan.layers):
        lines.append(f"  subgraph cluster_{li} {{ label=\"layer {li}\";")
        for ui, unit in enumerate(layer):
            shape = ev.shapes[unit.shape]
            label = f"{ev.sheet_names[unit.sheet]}: ={shape.text[:40]}\\n{len(unit.cells)} cells"
            label = label.replace('"', "'")
            lines.append(f"    u{li}_{ui} [label=\"{label}\"];")
        lines.append("  }")
    for li in range(1, len(plan.layers)):
        lines.append(f"  u{li - 1}_0 -> u{li}_0 [style=dotted];")
    lines.append("}")
    with atomic_output(path) as fh:
        fh.write(("\n".join(lines) + "\n").encode("utf-8"))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xleval",
                                description="Recalculate Excel workbooks without Excel.")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("calc", help="recalculate a workbook and write the results")
    c.add_argument("input", nargs="+", help=".xlsx or .xlsm workbook(s)")
    c.add_argument("-o", "--output", help="output file (.xlsx/.xlsm, .csv or .json); with "
                                          "several inputs, a directory")
    c.add_argument("--format", choices=("xlsx", "csv", "json"),
                   help="output format (default: from the output's extension)")
    c.add_argument("--sheet", help="sheet for CSV output / unqualified --cells")
    c.add_argument("--cells", help="comma-separated cells or ranges to print, e.g. Sheet1!A1,B2:B4")
    c.add_argument("--in-place", action="store_true", help="overwrite the input workbook")
    c.add_argument("--strategy", default="auto", choices=("serial", "pool", "process", "auto"),
                   help="evaluation strategy (default: auto, which stays serial unless "
                        "worker processes are predicted to pay)")
    c.add_argument("--workers", type=int, default=None, help="worker processes")
    c.add_argument("--now", help="pin NOW()/TODAY() (ISO date-time or serial number)")
    c.add_argument("--report", help="write the run report as JSON to this file")
    c.add_argument("--links", default="cached", choices=("cached", "update", "off"),
                   help="external workbook links: Excel's cached values (default), update "
                        "(recalculate the linked workbooks first) or off (#REF!)")
    c.add_argument("--links-dir", help="folder linked workbooks may also be read from "
                                       "(besides the workbook's own folder)")
    c.add_argument("--link-timeout", type=float, default=None, metavar="SECONDS",
                   help="per linked workbook, in update mode (default 60)")
    c.add_argument("--unknown", default="name", choices=("name", "cached"),
                   help=UNKNOWN_HELP)
    c.add_argument("--executor", default="local", choices=("local", "dask"),
                   help="where workbooks are recalculated: here (default) or on a Dask "
                        "cluster, one task per workbook")
    c.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler, e.g. tcp://host:8786 (default with --executor "
                        "dask: a local cluster, one worker process per CPU)")
    c.add_argument("-q", "--quiet", action="store_true", help="no summary")
    c.set_defaults(func=cmd_calc)

    b = sub.add_parser("bench", help="time the evaluation under each strategy")
    b.add_argument("input", help=".xlsx or .xlsm workbook")
    b.add_argument("--strategies", default="serial,pool,process,auto",
                   help="comma-separated strategies (default: all)")
    b.add_argument("--workers", default="1,2,4", help="comma-separated worker counts")
    b.add_argument("--repeat", type=int, default=3, help="runs per measurement (min is kept)")
    b.add_argument("--json", help="write the results as JSON to this file")
    b.add_argument("--plot", help="write a bar chart (PNG, needs matplotlib) to this file")
    b.add_argument("--no-sheets", action="store_true", help="time the whole workbook only")
    b.add_argument("-v", "--verbose", action="store_true", help="progress on stderr")
    b.set_defaults(func=cmd_bench)

    g = sub.add_parser("graph", help="show the dependency graph's shape")
    g.add_argument("input")
    g.add_argument("--json", action="store_true", help="print the statistics as JSON")
    g.add_argument("--dot", help="write a Graphviz DOT file of the layers")
    g.set_defaults(func=cmd_graph)

    k = sub.add_parser("check", help="compare xleval's results with the values Excel cached")
    k.add_argument("input")
    k.add_argument("--json", help="write the full report as JSON to this file")
    k.add_argument("--limit", type=int, default=30, help="differences to print (default 30)")
    k.add_argument("--now", help="pin NOW()/TODAY() (ISO date-time or serial number)")
    k.add_argument("--unknown", default="name", choices=("name", "cached"),
                   help=UNKNOWN_HELP)
    k.set_defaults(func=cmd_check)

    lk = sub.add_parser("links", help="list the external workbook links and where they lead")
    lk.add_argument("input")
    lk.add_argument("--json", action="store_true", help="print the list as JSON")
    lk.add_argument("--links-dir", help="folder linked workbooks may also be read from")
    lk.add_argument("--limit", type=int, default=5, help="cells shown per link (default 5)")
    lk.set_defaults(func=cmd_links)

    sv = sub.add_parser("serve", help="run the HTTP service (recalculation and compiled "
                                      "models over HTTP)")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sv.add_argument("--workers", type=int, default=None,
                    help="worker processes for the calculations (default: one per CPU)")
    sv.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                    help="per request, waiting included; the worker is replaced (default 60)")
    sv.add_argument("--max-queue", type=int, default=64,
                    help="requests waiting for a worker before 503 (default 64)")
    sv.add_argument("--max-upload-mb", type=float, default=50.0,
                    help="largest request body in MiB (default 50)")
    sv.add_argument("--max-cells", type=int, default=5_000_000,
                    help="largest workbook in cells, constants + formulas (default 5,000,000)")
    sv.add_argument("--max-models", type=int, default=64,
                    help="compiled models kept in memory (default 64)")
    sv.add_argument("--max-scenarios", type=int, default=10_000,
                    help="scenarios per model evaluation request (default 10,000)")
    sv.add_argument("--no-access-log", action="store_true", help="no line per request")
    sv.set_defaults(func=cmd_serve)

    f = sub.add_parser("functions", help="list Excel's functions and who implements each")
    f.add_argument("--json", action="store_true")
    f.set_defaults(func=cmd_functions)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except XlevalError as e:
        code, msg = error_message(e)
        _err(msg)
        return code
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # noqa: BLE001 - the CLI promises one line, never a traceback
        if os.environ.get("XLEVAL_DEBUG") and not isinstance(e, MemoryError):
            raise
        code, msg = error_message(e)
        _err(msg)
        return code


def entry() -> None:
    """Console entry point: run, flush, and leave without tearing down millions of Python
    objects one by one (that can take seconds on a large workbook; every output file is
    already written and closed, every worker process joined)."""
    # numpy's OpenBLAS starts a thread per further core as numpy loads, which spins for
    # ~0.1 s of CPU waiting for matrix work xleval hardly has (LINEST): on two cores that
    # is a core taken from a concurrent run or from our own forked readers. One thread,
    # unless the user chose; set before numpy loads (`import xleval` loads nothing heavy),
    # and inherited by worker processes. Measured: benchmarks/RESULTS.md, Session 13.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass
    os._exit(code)


if __name__ == "__main__":
    entry()
