"""Bounded load test of `xleval serve` over loopback.

    python benchmarks/load_service.py [--requests 400] [--concurrency 16] [--workers 2]
                                      [--out benchmarks/RESULTS.md]

Starts its own server (`python -m xleval serve` on a free port of 127.0.0.1), sends a fixed
number of `POST /v1/calculate` uploads of fixtures/workbooks/quarterly_model.xlsx from a
fixed number of concurrent clients (httpx.AsyncClient), once asking for JSON and once for
the recalculated workbook, then stops the server. A request fails on a transport error, a
status other than 200, or a wrong answer (Summary!B2 must equal the value LibreOffice cached
in the fixture; the returned workbook must open). Prints throughput and p50/p99 latency and
replaces the section `## HTTP service load test` of RESULTS.md (other sections untouched).
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import os
import pathlib
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time

import httpx
import psutil

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
FIXTURE = ROOT / "fixtures" / "workbooks" / "quarterly_model.xlsx"
SECTION = "## HTTP service load test"

sys.path.insert(0, str(HERE))
from results_md import update_sections  # noqa: E402


def expected_total() -> float:
    """Summary!B2 as LibreOffice computed and cached it (an independent engine)."""
    import openpyxl
    return openpyxl.load_workbook(FIXTURE, data_only=True)["Summary"]["B2"].value


def formula_count() -> int:
    import openpyxl
    wb = openpyxl.load_workbook(FIXTURE)
    return sum(1 for ws in wb for row in ws.iter_rows() for c in row
               if isinstance(c.value, str) and c.value.startswith("="))


def cpu_seconds(server) -> tuple[float, float]:
    """CPU seconds used so far by the server process and by its worker processes."""
    t = server.cpu_times()
    workers = 0.0
    for child in server.children(recursive=True):
        try:
            ct = child.cpu_times()
            workers += ct.user + ct.system
        except psutil.NoSuchProcess:
            pass
    return t.user + t.system, workers


def start_server(workers: int) -> tuple[str, subprocess.Popen, object]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "xleval", "serve", "--port", str(port),
                             "--workers", str(workers), "--no-access-log"], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return url, proc, log
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    log.seek(0)
    raise SystemExit("server did not start: " + log.read().decode()[-2000:])


async def run(url: str, mode: str, n: int, concurrency: int, body: bytes,
              total: float) -> dict:
    """n requests, `concurrency` at a time; latency per request, failures by reason."""
    latencies: list[float] = []
    failures: dict[str, int] = {}
    todo = iter(range(n))
    params = {"format": "json", "cells": "Summary!B2"} if mode == "json" else {}

    def check(r: httpx.Response) -> str | None:
        if r.status_code != 200:
            return f"HTTP {r.status_code}"
        if mode == "json":
            got = r.json()["values"]["Summary!B2"]
        else:
            import openpyxl
            got = openpyxl.load_workbook(io.BytesIO(r.content), data_only=True,
                                         read_only=True)["Summary"]["B2"].value
        return None if abs(got - total) <= 1e-9 * abs(total) else "wrong value"

    async def client_loop(client: httpx.AsyncClient):
        for _ in todo:
            t0 = time.perf_counter()
            try:
                r = await client.post("/v1/calculate", params=params,
                                      files={"file": ("quarterly_model.xlsx", body)})
                reason = check(r)
            except httpx.HTTPError as e:
                reason = type(e).__name__
            latencies.append(time.perf_counter() - t0)
            if reason:
                failures[reason] = failures.get(reason, 0) + 1

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(round(p / 100 * (len(latencies) - 1))))]
    return {"mode": mode, "requests": n, "concurrency": concurrency, "seconds": wall,
            "throughput": n / wall, "p50": pct(50), "p99": pct(99), "max": latencies[-1],
            "failed": sum(failures.values()), "failures": failures}


def write_section(path: pathlib.Path, text: str) -> None:
    """Replace (or append) our section of RESULTS.md; every other section stays as is."""
    update_sections(path, text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=400, help="per mode (default 400)")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2, help="server worker processes")
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)

    body = FIXTURE.read_bytes()
    total = expected_total()
    load_before = os.getloadavg()
    url, proc, log = start_server(args.workers)
    try:
        asyncio.run(run(url, "json", 2 * args.workers, args.workers, body, total))  # warm-up
        server = psutil.Process(proc.pid)
        results = []
        for mode in ("json", "xlsx"):
            cpu0 = cpu_seconds(server)
            results.append(asyncio.run(run(url, mode, args.requests, args.concurrency, body,
                                           total)))
            cpu1 = cpu_seconds(server)
            results[-1]["cpu_ms"] = tuple(1000 * (b - a) / args.requests
                                          for a, b in zip(cpu0, cpu1))
        metrics = httpx.get(url + "/metrics").text
        restarts = next((ln.split()[-1] for ln in metrics.splitlines()
                         if ln.startswith("xleval_worker_restarts_total ")), "?")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    load_after = os.getloadavg()

    rows = []
    for r in results:
        fail = r["failed"] if not r["failures"] else \
            f"{r['failed']} ({', '.join(f'{k} {v}' for k, v in r['failures'].items())})"
        rows.append(f"| `{r['mode']}` | {r['requests']} | {r['concurrency']} | "
                    f"{r['seconds']:.2f} | {r['throughput']:.1f} | {1000 * r['p50']:.0f} | "
                    f"{1000 * r['p99']:.0f} | {1000 * r['max']:.0f} | "
                    f"{r['cpu_ms'][0]:.1f} / {r['cpu_ms'][1]:.1f} | {fail} |")
    text = "\n".join([
        SECTION, "",
        f"`python benchmarks/load_service.py --requests {args.requests} --concurrency "
        f"{args.concurrency} --workers {args.workers}`, "
        f"{dt.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        f"on `{platform.platform()}`, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; load average {load_before[0]:.2f} at start, "
        f"{load_after[0]:.2f} at end (the CPUs are shared with other work: latency is only "
        "as good as the quiet the machine had).", "",
        f"A server started by the script on 127.0.0.1 with {args.workers} worker processes; "
        f"{args.concurrency} concurrent clients (httpx.AsyncClient over loopback) each upload "
        f"`fixtures/workbooks/quarterly_model.xlsx` ({formula_count()} formulas) to "
        "`POST /v1/calculate`, "
        "asking for `?format=json&cells=Summary!B2` or for the recalculated workbook. A "
        "request fails on a transport error, a status other than 200 or a value that differs "
        "from the one LibreOffice cached. Latency is per request, client side, queueing in the "
        "server included. CPU per request (psutil, process times: not skewed by other load) "
        "is the event-loop process's and the worker processes' own.", "",
        "| response | requests | concurrency | seconds | requests/s | p50 ms | p99 ms | "
        "max ms | CPU ms per request: server / workers | failed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        *rows, "",
        f"Worker restarts during the run: {restarts}. Target: 0 failed requests at 16 "
        "concurrent clients.", ""])
    print(text)
    if not args.no_write:
        write_section(pathlib.Path(args.out), text)
    return 1 if any(r["failed"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
