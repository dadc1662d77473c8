"""`xleval serve` as clients use it: a real uvicorn server in a subprocess, real HTTP.

Expected values come from Excel semantics worked out by hand (small workbooks built here
with openpyxl) or from the values LibreOffice cached in the bundled fixture, never from
xleval itself.
"""
import asyncio
import io
import math
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

import httpx
import openpyxl
import psutil
import pytest

import xleval

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIX = ROOT / "fixtures" / "workbooks"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(*args: str):
    """Start `python -m xleval serve` on a free port; wait for /health. Yields (url, proc);
    stopping it must leave no process behind."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = tempfile.TemporaryFile()     # a file, not a pipe: a full pipe would stall it
    proc = subprocess.Popen([sys.executable, "-m", "xleval", "serve", "--port", str(port),
                             "--no-access-log", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=log)
    proc.log = log
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            log.seek(0)
            raise AssertionError(log.read().decode())
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "server did not come up"
        time.sleep(0.1)
    return url, proc


def _stop(proc) -> None:
    """SIGTERM the server and check that it and every process it started are gone."""
    family = psutil.Process(proc.pid).children(recursive=True)
    assert family, "the server should have worker processes"
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    proc.log.seek(0)
    log = proc.log.read().decode()
    proc.log.close()
    _gone, alive = psutil.wait_procs(family, timeout=10)
    for p in alive:
        p.kill()
    assert alive == [], f"processes left behind: {alive}"
    # uvicorn shuts down gracefully, then re-raises the signal to end with its status
    assert "Application shutdown complete" in log and "Traceback" not in log, log
    assert proc.returncode in (0, -signal.SIGTERM)


@pytest.fixture(scope="module")
def server():
    url, proc = _start("--workers", "2", "--max-upload-mb", "1", "--max-cells", "5000",
                       "--max-models", "1", "--max-scenarios", "3")
    yield url
    _stop(proc)


@pytest.fixture(scope="module")
def slow_server():
    """One worker, no waiting queue, a 1.5 s timeout."""
    url, proc = _start("--workers", "1", "--max-queue", "0", "--timeout", "1.5")
    yield url
    _stop(proc)


def _xlsx(tmp_path, name: str, cells: dict) -> pathlib.Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    for ref, v in cells.items():
        ws[ref] = v
    path = tmp_path / name
    wb.save(path)
    return path


def _post(url: str, path: pathlib.Path, **params) -> httpx.Response:
    with open(path, "rb") as fh:
        return httpx.post(url + "/v1/calculate", params=params, timeout=60,
                          files={"file": (path.name, fh)})


def _metric(text: str, name: str, **labels) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _cached(path):
    """{'Sheet!A1': value} of every formula cell, from the values LibreOffice cached."""
    f = openpyxl.load_workbook(path)
    v = openpyxl.load_workbook(path, data_only=True)
    out = {}
    for ws in f:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str) and c.value.startswith("="):
                    out[f"{ws.title}!{c.coordinate}"] = v[ws.title][c.coordinate].value
    return out


def _same(expected, got) -> bool:
    if hasattr(expected, "toordinal"):          # a date: Excel's serial number
        from xleval.dates import to_serial
        expected = to_serial(expected)
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        return isinstance(got, float) and math.isclose(expected, got, rel_tol=1e-9)
    return expected == got


def test_calculate_json_matches_libreoffice(server):
    r = _post(server, FIX / "quarterly_model.xlsx", format="json")
    assert r.status_code == 200, r.text
    values = r.json()["values"]
    expected = _cached(FIX / "quarterly_model.xlsx")
    assert set(expected) <= set(values)
    wrong = {k: (e, values[k]) for k, e in expected.items() if not _same(e, values[k])}
    assert wrong == {}
    assert values["Summary!B5"] == "Q4 2026: 8,085.46"


def test_calculate_cells_and_error_text(server, tmp_path):
    path = _xlsx(tmp_path, "errors.xlsx", {
        "A1": 1, "A2": 0, "B1": "=A1/A2", "B2": "=SQRT(-1)", "B3": "=A1>0",
        "B4": '="n"&A1', "B5": "=NA()", "B6": "=A1+A2*2", "B7": "=B6*10"})
    r = _post(server, path, format="json", cells="Data!B1,B2,Data!B3:B5,Data!B7")
    assert r.status_code == 200, r.text
    assert r.json() == {"values": {"Data!B1": "#DIV/0!", "B2": "#NUM!",
                                   "Data!B3:B5": [[True], ["n1"], ["#N/A"]],
                                   "Data!B7": 10.0}}
    # without cells=: every formula cell, qualified
    r = _post(server, path, format="json")
    assert r.json()["values"] == {"Data!B1": "#DIV/0!", "Data!B2": "#NUM!", "Data!B3": True,
                                  "Data!B4": "n1", "Data!B5": "#N/A", "Data!B6": 1.0,
                                  "Data!B7": 10.0}
    r = _post(server, path, format="json", cells="Nope!A1")
    assert r.status_code == 400 and r.json() == {"error": "no sheet named 'Nope'"}
    r = _post(server, path, cells="Data!B1")
    assert r.status_code == 400 and r.json()["error"].startswith("cells: only with format=json")
    today = _xlsx(tmp_path, "today.xlsx", {"A1": "=TODAY()", "A2": "=NOW()"})
    r = _post(server, today, format="json", now="2024-06-30T12:00")
    assert r.json() == {"values": {"Data!A1": 45473.0, "Data!A2": 45473.5}}  # 2024-06-30
    r = _post(server, path, format="json", now="yesterday-ish")
    assert r.status_code == 400 and r.json()["error"].startswith("now: cannot read")
    r = _post(server, path, format="json", cells=",, ,")     # named, but nothing in it
    assert r.status_code == 400 and r.json()["error"].startswith("cells: no cell or range")


def test_calculate_returns_recalculated_workbook(server, tmp_path):
    src = _xlsx(tmp_path, "stale.xlsx", {"A1": 6, "A2": 7, "A3": "=A1*A2", "A4": "=A3&\"!\""})
    r = _post(server, src)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert 'filename="stale.xlsx"' in r.headers["content-disposition"]
    back = openpyxl.load_workbook(io.BytesIO(r.content), data_only=True)["Data"]
    assert back["A3"].value == 42 and back["A4"].value == "42!"
    assert openpyxl.load_workbook(io.BytesIO(r.content))["Data"]["A3"].value == "=A1*A2"


def test_bad_workbooks_get_the_cli_message_and_server_keeps_serving(server, tmp_path):
    text = tmp_path / "notes.xlsx"
    text.write_text("just some text\n")
    truncated = tmp_path / "cut.xlsx"
    truncated.write_bytes((FIX / "quarterly_model.xlsx").read_bytes()[:3000])
    for bad in (text, truncated):
        r = _post(server, bad)
        assert r.status_code == 422, r.text
        cli = subprocess.run([sys.executable, "-m", "xleval", "calc", bad.name, "-q"],
                             cwd=tmp_path, capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert cli.returncode == 2
        assert cli.stderr.strip() == "xleval: " + r.json()["error"]
        assert "\n" not in r.json()["error"]
    r = _post(server, FIX / "quarterly_model.xlsx", format="json", cells="Summary!B6")
    assert r.status_code == 200 and r.json()["values"]["Summary!B6"] == 6.0


def test_limits_upload_size_and_cells(server, tmp_path):
    big = os.urandom(2 * 1024 * 1024)
    r = httpx.post(server + "/v1/calculate", files={"file": ("big.xlsx", big)}, timeout=30)
    assert r.status_code == 413 and "limit of 1048576 bytes" in r.json()["error"]

    def chunks():                       # no Content-Length: cut off while reading
        boundary = b"--xb\r\n"
        yield boundary + b'Content-Disposition: form-data; name="file"; filename="b.xlsx"\r\n\r\n'
        for i in range(0, len(big), 65536):
            yield big[i:i + 65536]
        yield b"\r\n--xb--\r\n"
    r = httpx.post(server + "/v1/calculate", content=chunks(), timeout=30,
                   headers={"content-type": "multipart/form-data; boundary=xb"})
    assert r.status_code == 413
    many = _xlsx(tmp_path, "many.xlsx", {f"A{i}": i for i in range(1, 5002)})
    r = _post(server, many)
    assert r.status_code == 413
    assert r.json() == {"error": "many.xlsx: 5001 cells, more than this server's limit of 5000"}
    r = httpx.post(server + "/v1/calculate", timeout=30)
    assert r.status_code == 422 and r.json()["error"].startswith("file:")
    assert httpx.get(server + "/health").json()["status"] == "ok"
    # answered before routing, still counted under the route
    assert _metric(httpx.get(server + "/metrics").text, "xleval_requests_total",
                   route="/v1/calculate", status="413") >= 3


def test_health_metrics_docs_and_404(server):
    before = httpx.get(server + "/metrics").text
    for _ in range(2):
        assert _post(server, FIX / "chain.xlsx", format="json", cells="Chain!D3").json() == \
            {"values": {"Chain!D3": 2000.0}}
    r = httpx.get(server + "/v1/nowhere")
    assert r.status_code == 404 and r.json() == {"error": "Not Found"}
    after = httpx.get(server + "/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    labels = {"method": "POST", "route": "/v1/calculate", "status": "200"}
    assert _metric(after.text, "xleval_requests_total", **labels) - \
        _metric(before, "xleval_requests_total", **labels) == 2
    assert _metric(after.text, "xleval_requests_total", route="other", status="404") >= 1
    count = _metric(after.text, "xleval_request_duration_seconds_count",
                    method="POST", route="/v1/calculate")
    inf = _metric(after.text, "xleval_request_duration_seconds_bucket",
                  method="POST", route="/v1/calculate", le="+Inf")
    assert count == inf >= 2
    health = httpx.get(server + "/health").json()
    assert health["status"] == "ok" and len(health["worker_pids"]) == 2
    assert all(psutil.pid_exists(p) for p in health["worker_pids"])
    docs = httpx.get(server + "/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    paths = httpx.get(server + "/openapi.json").json()["paths"]
    assert {"/v1/calculate", "/v1/models", "/v1/models/{model_id}",
            "/v1/models/{model_id}/evaluate"} <= set(paths)


def test_concurrent_requests_all_succeed(server):
    async def main():
        async with httpx.AsyncClient(base_url=server, timeout=60) as client:
            body = (FIX / "chain.xlsx").read_bytes()

            async def one():
                r = await client.post("/v1/calculate", params={"format": "json",
                                                               "cells": "Chain!D3"},
                                      files={"file": ("chain.xlsx", body)})
                return r.status_code, r.json()
            return await asyncio.gather(*(one() for _ in range(12)))
    results = asyncio.run(main())
    assert results == [(200, {"values": {"Chain!D3": 2000.0}})] * 12


HAS_MODELS = hasattr(xleval, "compile")


@pytest.mark.skipif(not HAS_MODELS, reason="the model API (xleval.compile) is not in this tree")
def test_models_create_evaluate_get_delete(server, tmp_path):
    path = _xlsx(tmp_path, "ratio.xlsx", {"A1": 1, "A2": 2, "B1": "=A1*A2", "B2": "=A1/A2",
                                          "B3": '=IF(A1>A2,"up","down")'})
    with open(path, "rb") as fh:
        r = httpx.post(server + "/v1/models", files={"file": ("ratio.xlsx", fh)}, timeout=60,
                       data={"inputs": "Data!A1,Data!A2",
                             "outputs": '["Data!B1", "Data!B2", "Data!B3"]'})
    assert r.status_code == 201, r.text
    info = r.json()
    mid = info["id"]
    assert info["filename"] == "ratio.xlsx" and info["bytes"] > 0
    assert httpx.get(f"{server}/v1/models/{mid}").json()["id"] == mid
    with open(path, "rb") as fh:        # --max-models 1: the store is full
        r = httpx.post(server + "/v1/models", files={"file": ("ratio.xlsx", fh)}, timeout=60,
                       data={"inputs": "Data!A1", "outputs": "Data!B1"})
    assert r.status_code == 507 and "DELETE" in r.json()["error"]
    for _ in range(3):                  # lands on both workers: bytes sent to each once
        r = httpx.post(f"{server}/v1/models/{mid}/evaluate", timeout=60,
                       json={"inputs": {"Data!A1": 10, "Data!A2": 4}})
        assert r.status_code == 200, r.text
        assert r.json() == {"outputs": {"Data!B1": 40.0, "Data!B2": 2.5, "Data!B3": "up"}}
    r = httpx.post(f"{server}/v1/models/{mid}/evaluate", timeout=60, json={"scenarios": [
        {"Data!A1": 3, "Data!A2": 0}, {"Data!A1": -1, "Data!A2": 0.5}, {}]})
    assert r.json() == {"results": [
        {"Data!B1": 0.0, "Data!B2": "#DIV/0!", "Data!B3": "up"},
        {"Data!B1": -0.5, "Data!B2": -2.0, "Data!B3": "down"},
        {"Data!B1": 2.0, "Data!B2": 0.5, "Data!B3": "down"}]}     # the workbook's own inputs
    r = httpx.post(f"{server}/v1/models/{mid}/evaluate", json={"scenarios": [{}] * 4})
    assert r.status_code == 413 and "limit of 3" in r.json()["error"]
    r = httpx.post(f"{server}/v1/models/{mid}/evaluate", json={"nothing": 1})
    assert r.status_code == 422
    r = httpx.post(f"{server}/v1/models/{mid}/evaluate", json={"inputs": {"Data!C9": 1}})
    assert r.status_code == 400 and r.json()["error"].startswith("unknown model input 'Data!C9'")
    r = httpx.post(f"{server}/v1/models/{mid}/evaluate", json={"inputs": {"Data!A1": {"x": 1}}})
    assert r.status_code == 400 and r.json()["error"].startswith("unsupported input value")
    r = httpx.post(f"{server}/v1/models/{mid}/evaluate", timeout=60,
                   content=b'{"inputs": {"Data!A1": 1' + b"0" * 400 + b"}}",
                   headers={"content-type": "application/json"})
    assert r.status_code == 400 and "too large" in r.json()["error"], r.text
    r = httpx.post(f"{server}/v1/models/{mid}/evaluate", timeout=60, content=b"{not json",
                   headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"].startswith(
        "the request body is not valid JSON"), r.text
    assert httpx.delete(f"{server}/v1/models/{mid}").status_code == 204
    with open(path, "rb") as fh:
        r = httpx.post(server + "/v1/models", files={"file": ("ratio.xlsx", fh)}, timeout=60,
                       data={"inputs": "Data!A1", "outputs": "Nope!B1"})
    assert r.status_code == 400 and r.json() == {"error": "'Nope!B1': no sheet named 'Nope'"}
    assert httpx.get(f"{server}/v1/models/{mid}").status_code == 404
    r = httpx.post(f"{server}/v1/models/{mid}/evaluate", json={"inputs": {}})
    assert r.status_code == 404 and r.json() == {"error": f"no model with id {mid!r}"}


@pytest.mark.skipif(HAS_MODELS, reason="the model API is present")
def test_models_without_model_api_answer_501(server):
    r = httpx.post(server + "/v1/models", files={"file": ("x.xlsx", b"x")},
                   data={"inputs": "A1", "outputs": "B1"})
    assert r.status_code == 501 and "xleval.compile" in r.json()["error"]


def test_unknown_model_is_404(server):
    assert httpx.get(server + "/v1/models/doesnotexist").status_code == 404
    assert httpx.delete(server + "/v1/models/doesnotexist").status_code == 404


def test_timeout_replaces_the_worker_and_others_are_not_blocked(slow_server, tmp_path):
    # one cell calling a lambda 4 million times: far beyond the 1.5 s timeout however fast
    # the rest of the engine gets
    big = _xlsx(tmp_path, "slow.xlsx", {"A1": "=SUM(MAKEARRAY(2000,2000,LAMBDA(r,c,r*c)))"})
    small = _xlsx(tmp_path, "small.xlsx", {"A1": 2, "A2": "=A1*21"})
    old_pid = httpx.get(slow_server + "/health").json()["worker_pids"][0]

    async def main():
        async with httpx.AsyncClient(base_url=slow_server, timeout=60) as client:
            slow = asyncio.create_task(client.post(
                "/v1/calculate", files={"file": ("slow.xlsx", big.read_bytes())}))
            await asyncio.sleep(0.5)
            t0 = time.perf_counter()
            health = await client.get("/health")       # the event loop is not blocked
            health_s = time.perf_counter() - t0
            busy = await client.post("/v1/calculate", files={"file": ("s.xlsx",
                                                                      small.read_bytes())})
            return await slow, health, health_s, busy
    slow, health, health_s, busy = asyncio.run(main())
    assert slow.status_code == 504, slow.text
    assert "timeout" in slow.json()["error"]
    assert health.status_code == 200 and health.json()["busy"] == 1 and health_s < 1.0
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    # the hung worker was killed and replaced; the next request works
    r = _post(slow_server, small, format="json")
    assert r.status_code == 200 and r.json() == {"values": {"Data!A2": 42.0}}
    new_pid = httpx.get(slow_server + "/health").json()["worker_pids"][0]
    assert new_pid != old_pid and not psutil.pid_exists(old_pid)
    text = httpx.get(slow_server + "/metrics").text
    assert re.search(r"^xleval_worker_restarts_total 1$", text, re.M)


def test_serve_rejects_bad_settings_in_one_line():
    p = subprocess.run([sys.executable, "-m", "xleval", "serve", "--workers", "0"],
                       capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 2 and p.stderr == "xleval: --workers: must be from 1 to 256\n"


def test_calculate_unknown_functions_keep_cached_values_on_request(server, tmp_path):
    # the invoice of fixtures/make_udf.py: a VBA tround the server cannot run; its cached
    # values (59.97, 17.5, 120) are written into the file by hand, so are the totals
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "fixtures"))
    from make_udf import build
    path = build(tmp_path)
    r = _post(server, path, format="json", cells="Invoice!D2,Invoice!D7")
    assert r.json() == {"values": {"Invoice!D2": "#NAME?", "Invoice!D7": "#NAME?"}}
    r = _post(server, path, format="json", cells="Invoice!D2,Invoice!D7", unknown="cached")
    got = r.json()["values"]
    assert got["Invoice!D2"] == 59.97
    assert got["Invoice!D7"] == pytest.approx(197.47 + 39.49)   # SUM, ROUND(...*0.2,2)
    r = _post(server, path, format="json", unknown="maybe")
    assert r.status_code == 422 and r.json()["error"].startswith("unknown:")
