"""`xleval serve`: recalculation and compiled models as an HTTP service (FastAPI + uvicorn).

    from xleval.service import Settings, create_app, serve
    serve(Settings(port=8000, workers=2))

See `app` for the routes, `runner` for the worker processes, `settings` for the limits.
Needs the `service` extra: pip install 'xleval[service]'.
"""
from __future__ import annotations

from .app import create_app, serve
from .settings import Settings

__all__ = ["create_app", "serve", "Settings"]
