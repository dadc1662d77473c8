"""The FastAPI application of `xleval serve`.

    POST   /v1/calculate                  upload a workbook, get it back recalculated (or JSON)
    POST   /v1/models                     upload + compile a model (inputs/outputs), get an id
    GET    /v1/models/{model_id}          its description
    POST   /v1/models/{model_id}/evaluate inputs, or a list of scenarios -> outputs
    DELETE /v1/models/{model_id}
    GET    /health, /metrics, /docs

Every error answer is `{"error": "<one line>"}`, the line the CLI would print for the same
workbook. The event loop only moves bytes: loading, calculating, compiling and evaluating
run in the worker processes of `runner.WorkerPool`. Models live in this process's memory
(one uvicorn process, so every request sees the same store).
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import tempfile
import time
from collections import OrderedDict
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import XlevalError
from . import jobs
from .metrics import Metrics
from .runner import Busy, Timeout, WorkerPool
from .settings import Settings

XLSX_TYPES = {".xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
              ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


class ApiError(Exception):
    """An answer other than 2xx decided in this process: status and one-line message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


@dataclass
class StoredModel:
    id: str
    filename: str
    blob: bytes
    describe: dict
    created: float = field(default_factory=time.time)

    def info(self) -> dict:
        return {"id": self.id, "filename": self.filename, "bytes": len(self.blob),
                "created": self.created, **self.describe}


class EvaluateRequest(BaseModel):
    """Either `inputs` (one evaluation) or `scenarios` (a list of input sets)."""
    inputs: dict[str, Any] | None = None
    scenarios: list[dict[str, Any]] | None = None


class Service:
    """The state behind the routes: settings, worker pool, model store, metrics, temp dir."""

    def __init__(self, settings: Settings):
        self.settings = settings.validate()
        self.pool = WorkerPool(settings.workers, settings.max_queue)
        self.models: OrderedDict[str, StoredModel] = OrderedDict()
        self.metrics = Metrics()
        self.tmp: str | None = None
        self.routes: list = []                 # the app's routes, to label /metrics

    async def start(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="xleval-serve-")
        await self.pool.start()

    def stop(self) -> None:
        self.pool.shutdown()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def deadline(self) -> float:
        return time.monotonic() + self.settings.timeout

    async def save_upload(self, upload: UploadFile) -> tuple[str, str, str]:
        """Copy an upload to a private temp folder: (folder, path, client's file name)."""
        name = safe_name(upload.filename)
        folder = tempfile.mkdtemp(dir=self.tmp)
        path = os.path.join(folder, name)

        def copy():
            upload.file.seek(0)
            with open(path, "wb") as fh:
                shutil.copyfileobj(upload.file, fh, 1 << 20)
        await asyncio.get_running_loop().run_in_executor(None, copy)
        return folder, path, name


def safe_name(filename: str | None) -> str:
    """The upload's base name with only harmless characters (it names the temp file and
    appears in messages); 'upload.xlsx' when there is none."""
    base = os.path.basename((filename or "").replace("\\", "/"))
    base = re.sub(r"[^A-Za-z0-9._ ()-]", "_", base).strip(" .")[:120]
    return base or "upload.xlsx"


def split_list(text: str | None, what: str) -> list[str]:
    """A form field listing cells or names: a JSON array or comma-separated text."""
    if text is None:
        return []
    text = text.strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            raise ApiError(400, f"{what}: not a valid JSON list") from None
        if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
            raise ApiError(400, f"{what}: expected a list of strings")
        return [x.strip() for x in items if x.strip()]
    return [x.strip() for x in text.split(",") if x.strip()]


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class _Observe:
    """Outermost ASGI layer: counts and times every request for /metrics, and enforces the
    upload limit while the body is read (a declared Content-Length above it is refused
    before reading anything; a chunked body is cut off at the limit)."""

    def __init__(self, app, service: Service):
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        svc = self.service
        limit = svc.settings.max_upload_bytes
        t0 = time.perf_counter()
        state = {"status": 500, "started": False, "too_large": False, "seen": 0}
        too_large_msg = f"request body larger than this server's limit of {limit} bytes"

        async def send_413():
            body = json.dumps({"error": too_large_msg}).encode()
            await send({"type": "http.response.start", "status": 413,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode()),
                                    (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": body})
            state["status"], state["started"] = 413, True

        async def recv():
            if state["too_large"]:
                return {"type": "http.disconnect"}
            msg = await receive()
            if msg["type"] == "http.request":
                state["seen"] += len(msg.get("body", b""))
                if state["seen"] > limit:
                    state["too_large"] = True        # the app sees a disconnect; we answer
                    return {"type": "http.disconnect"}
            return msg

        async def snd(msg):
            if state["too_large"]:
                if not state["started"]:
                    await send_413()
                return                               # drop the app's own answer
            if msg["type"] == "http.response.start":
                state["status"], state["started"] = msg["status"], True
            await send(msg)

        svc.metrics.inflight += 1
        try:
            declared = dict(scope.get("headers") or []).get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                await send_413()
                return
            try:
                await self.app(scope, recv, snd)
            except Exception:
                if not state["too_large"]:
                    raise
            if state["too_large"] and not state["started"]:
                await send_413()
        finally:
            svc.metrics.inflight -= 1
            route = scope.get("route") or _match(svc.routes, scope)
            path = getattr(route, "path", None) or "other"
            svc.metrics.observe(scope["method"], path, state["status"],
                                time.perf_counter() - t0)


def _match(routes: list, scope) -> object | None:
    """The route a request was meant for when it was answered before routing (413)."""
    from starlette.routing import Match
    for route in routes:
        try:
            if route.matches(scope)[0] is Match.FULL:
                return route
        except (KeyError, TypeError):
            continue
    return None


def create_app(settings: Settings | None = None) -> FastAPI:
    """The FastAPI app for `settings` (defaults: see Settings). Its lifespan starts the
    worker processes and stops them (and removes its temp files) at shutdown."""
    svc = Service(settings or Settings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await svc.start()
        try:
            yield
        finally:
            svc.stop()

    app = FastAPI(title="xleval", version=__version__, lifespan=lifespan,
                  description="Recalculate Excel workbooks without Excel, over HTTP. Errors "
                              "are `{\"error\": \"<one line>\"}`.")
    app.state.service = svc
    svc.routes = app.routes
    app.add_middleware(_Observe, service=svc)

    # -- errors: always {"error": "<one line>"} ---------------------------------------------
    @app.exception_handler(ApiError)
    async def _api_error(_req: Request, e: ApiError):
        return _error(e.status, e.message, e.headers)

    @app.exception_handler(jobs.JobError)
    async def _job_error(_req: Request, e: jobs.JobError):
        return _error(e.status, e.message)

    @app.exception_handler(Busy)
    async def _busy(_req: Request, e: Busy):
        return _error(503, str(e), {"Retry-After": "1"})

    @app.exception_handler(Timeout)
    async def _timeout(_req: Request, e: Timeout):
        return _error(504, f"{e} ({svc.settings.timeout:g} s)")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {}
        if first.get("type") == "json_invalid":          # (its loc is the byte offset)
            return _error(422, "the request body is not valid JSON: "
                               f"{first.get('ctx', {}).get('error', 'cannot decode it')}")
        loc = ".".join(str(x) for x in first.get("loc", ()) if x not in ("body", "query"))
        return _error(422, f"{loc or 'request'}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, e: StarletteHTTPException):
        return _error(e.status_code, str(e.detail), getattr(e, "headers", None))

    @app.exception_handler(Exception)
    async def _internal(_req: Request, e: Exception):
        from ..cli import error_message
        return _error(500, error_message(e)[1])

    # -- routes -------------------------------------------------------------------------------
    @app.post("/v1/calculate", summary="Recalculate an uploaded workbook",
              response_description="the recalculated workbook, or with ?format=json "
                                   "{\"values\": {\"Sheet1!A1\": value}}")
    async def calculate(file: UploadFile = File(..., description=".xlsx/.xlsm workbook"),
                        format: Literal["xlsx", "json"] = Query("xlsx"),
                        cells: str | None = Query(None, description="comma-separated cells "
                                                  "or ranges for format=json, e.g. "
                                                  "Summary!B2,Model!A1:C3"),
                        now: str | None = Query(None, description="pin NOW()/TODAY(): ISO "
                                                "date-time or serial number"),
                        unknown: Literal["name", "cached"] = Query(
                            "name", description="a cell calling a function nobody "
                            "evaluates (VBA, add-ins, cube...): #NAME? (name) or Excel's "
                            "cached value (cached)")):
        from ..cli import _parse_now
        deadline = svc.deadline()
        try:
            now_value = _parse_now(now)
        except XlevalError as e:
            raise ApiError(400, str(e).replace("--now", "now", 1)) from None
        refs = split_list(cells, "cells") or None
        if cells is not None and refs is None:
            raise ApiError(400, "cells: no cell or range named (leave it out for every "
                                "formula cell)")
        if refs and format != "json":
            raise ApiError(400, "cells: only with format=json (the workbook comes back whole)")
        folder, path, name = await svc.save_upload(file)
        keep = False
        try:
            ext = os.path.splitext(name)[1].lower()
            out = os.path.join(folder, "out" + (ext if ext in XLSX_TYPES else ".xlsx"))
            result = await svc.pool.run(deadline, jobs.calculate, path, name,
                                        max_cells=svc.settings.max_cells, fmt=format,
                                        cells=refs, now=now_value, out_path=out,
                                        unknown=unknown)
            if format == "json":
                return Response(result["json"], media_type="application/json")
            keep = True
            return FileResponse(result["path"], filename=name,
                                media_type=XLSX_TYPES.get(ext, XLSX_TYPES[".xlsx"]),
                                background=BackgroundTask(shutil.rmtree, folder, True))
        finally:
            if not keep:
                shutil.rmtree(folder, ignore_errors=True)

    def model_api() -> None:
        import xleval
        if not hasattr(xleval, "compile"):
            raise ApiError(501, "this xleval build has no model API (xleval.compile)")

    def get_model(model_id: str) -> StoredModel:
        m = svc.models.get(model_id)
        if m is None:
            raise ApiError(404, f"no model with id {model_id!r}")
        return m

    @app.post("/v1/models", status_code=201, summary="Upload and compile a model")
    async def create_model(file: UploadFile = File(..., description=".xlsx/.xlsm workbook"),
                           inputs: str = Form(..., description="input cells or names: "
                                              "comma-separated or a JSON list"),
                           outputs: str = Form(..., description="output cells, ranges or "
                                               "names: comma-separated or a JSON list")):
        model_api()
        ins, outs = split_list(inputs, "inputs"), split_list(outputs, "outputs")
        if not outs:
            raise ApiError(400, "outputs: give at least one output cell")
        full = (f"the model store is full ({svc.settings.max_models} models); "
                "DELETE /v1/models/{id} first")
        if len(svc.models) >= svc.settings.max_models:
            raise ApiError(507, full)
        deadline = svc.deadline()
        folder, path, name = await svc.save_upload(file)
        try:
            res = await svc.pool.run(deadline, jobs.compile_model, path, name,
                                     max_cells=svc.settings.max_cells, inputs=ins,
                                     outputs=outs)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if len(svc.models) >= svc.settings.max_models:
            raise ApiError(507, full)
        m = StoredModel(secrets.token_hex(8), name, res["bytes"], res["describe"])
        svc.models[m.id] = m
        return m.info()

    @app.get("/v1/models/{model_id}", summary="Describe a model")
    async def describe_model(model_id: str):
        return get_model(model_id).info()

    @app.delete("/v1/models/{model_id}", status_code=204, summary="Delete a model")
    async def delete_model(model_id: str):
        get_model(model_id)
        del svc.models[model_id]

    @app.post("/v1/models/{model_id}/evaluate", summary="Evaluate a model",
              response_description="{\"outputs\": {...}} for `inputs`, {\"results\": "
                                   "[{...}, ...]} for `scenarios`")
    async def evaluate_model(model_id: str, body: EvaluateRequest):
        m = get_model(model_id)
        if (body.inputs is None) == (body.scenarios is None):
            raise ApiError(422, "give either \"inputs\" (an object) or \"scenarios\" "
                                "(a list of objects)")
        scenarios = [body.inputs] if body.inputs is not None else body.scenarios
        if len(scenarios) > svc.settings.max_scenarios:
            raise ApiError(413, f"{len(scenarios)} scenarios, more than this server's limit "
                                f"of {svc.settings.max_scenarios}")
        deadline = svc.deadline()
        slot = await svc.pool.acquire(deadline)
        try:
            blob = None if m.id in slot.models else m.blob
            res = await svc.pool.run_on(slot, deadline, jobs.evaluate_model, m.id, blob,
                                        scenarios)
            if res == jobs.MISSING:             # the worker dropped it from its cache
                res = await svc.pool.run_on(slot, deadline, jobs.evaluate_model, m.id,
                                            m.blob, scenarios)
            slot.models.add(m.id)
        finally:
            svc.pool.release(slot)
        if body.inputs is not None:
            return {"outputs": res[0]}
        return {"results": res}

    @app.get("/health", summary="Liveness and load")
    async def health():
        p = svc.pool
        return {"status": "ok", "version": __version__, "workers": p.size,
                "worker_pids": p.pids(), "busy": p.running, "waiting": p.waiting,
                "models": len(svc.models), "timeout": svc.settings.timeout}

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics():
        p = svc.pool
        extra = {
            "xleval_inflight_requests": ("gauge", "Requests being handled.",
                                         svc.metrics.inflight),
            "xleval_busy_workers": ("gauge", "Worker processes running a job.", p.running),
            "xleval_waiting_requests": ("gauge", "Requests waiting for a worker.", p.waiting),
            "xleval_worker_restarts_total": ("counter", "Workers killed and replaced after "
                                             "a timeout or crash.", p.restarts),
            "xleval_models": ("gauge", "Compiled models in the store.", len(svc.models)),
            "xleval_uptime_seconds": ("gauge", "Seconds since start.",
                                      time.time() - svc.metrics.started),
        }
        return PlainTextResponse(svc.metrics.render(extra),
                                 media_type="text/plain; version=0.0.4")

    return app


def serve(settings: Settings) -> None:
    """Run the service with uvicorn until SIGINT/SIGTERM (then the workers are stopped)."""
    import uvicorn
    settings.validate()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                access_log=settings.access_log, log_level="info",
                timeout_graceful_shutdown=max(5, int(settings.timeout) + 5))
