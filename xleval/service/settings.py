"""The limits and knobs of `xleval serve` (one dataclass, filled from the command line)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import XlevalError


def _default_workers() -> int:
    from ..forking import MAX_WORKERS
    return min(MAX_WORKERS, max(1, os.cpu_count() or 1))


@dataclass
class Settings:
    """What the service accepts and how much work it takes on.

    * `workers`: worker processes; at most this many calculations run at once.
    * `max_queue`: requests that may wait for a free worker; one more gets 503 at once
      (with Retry-After) rather than an ever-growing queue and latency.
    * `timeout`: seconds per request, waiting for a worker included; past it the answer is
      504 and the worker running the job is killed and replaced.
    * `max_upload_bytes`: request bodies above it get 413, checked while reading.
    * `max_cells`: constants + formulas of an uploaded workbook; above it 413.
    * `max_models`: compiled models kept in memory; when full, POST /v1/models gets 507
      until one is deleted (nothing is evicted behind a client's back).
    * `max_scenarios`: scenarios per evaluate request.
    """
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = field(default_factory=_default_workers)
    max_queue: int = 64
    timeout: float = 60.0
    max_upload_bytes: int = 50 * 1024 * 1024
    max_cells: int = 5_000_000
    max_models: int = 64
    max_scenarios: int = 10_000
    access_log: bool = True

    def validate(self) -> "Settings":
        """Raise XlevalError (one line) for a setting that cannot work."""
        from ..forking import MAX_WORKERS
        checks = [("--workers", 1 <= self.workers <= MAX_WORKERS, f"from 1 to {MAX_WORKERS}"),
                  ("--max-queue", self.max_queue >= 0, "0 or more"),
                  ("--timeout", self.timeout > 0, "more than 0 seconds"),
                  ("--max-upload-mb", self.max_upload_bytes > 0, "more than 0"),
                  ("--max-cells", self.max_cells > 0, "at least 1"),
                  ("--max-models", self.max_models > 0, "at least 1"),
                  ("--max-scenarios", self.max_scenarios > 0, "at least 1"),
                  ("--port", 0 <= self.port <= 65535, "between 0 and 65535")]
        for name, ok, rule in checks:
            if not ok:
                raise XlevalError(f"{name}: must be {rule}")
        return self
