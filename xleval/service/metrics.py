"""Request counts and a latency histogram for `GET /metrics`, in Prometheus' text format.

Labels are the route *template* (`/v1/models/{model_id}`), never the raw path, so the number
of series stays fixed however many model ids are used; unmatched paths count as `other`.
Everything runs on the event loop thread, so plain dicts need no lock.
"""
from __future__ import annotations

import bisect
import time

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """Counters per (method, route, status) and a latency histogram per (method, route)."""

    def __init__(self) -> None:
        self.started = time.time()
        self.requests: dict[tuple[str, str, int], int] = {}
        self.hist: dict[tuple[str, str], list[int]] = {}     # per bucket, +Inf last
        self.sums: dict[tuple[str, str], float] = {}
        self.inflight = 0

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        hk = (method, route)
        counts = self.hist.get(hk)
        if counts is None:
            counts = self.hist[hk] = [0] * (len(BUCKETS) + 1)
        counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.sums[hk] = self.sums.get(hk, 0.0) + seconds

    def render(self, extra: dict[str, tuple[str, str, float]]) -> str:
        """The Prometheus text exposition; `extra` adds name -> (type, help, value)."""
        out = ["# HELP xleval_requests_total HTTP requests by method, route and status.",
               "# TYPE xleval_requests_total counter"]
        for (m, r, s), n in sorted(self.requests.items()):
            out.append(f'xleval_requests_total{{method="{m}",route="{r}",status="{s}"}} {n}')
        out += ["# HELP xleval_request_duration_seconds Request latency.",
                "# TYPE xleval_request_duration_seconds histogram"]
        for (m, r), counts in sorted(self.hist.items()):
            lab = f'method="{m}",route="{r}"'
            acc = 0
            for le, n in zip(BUCKETS + (float("inf"),), counts):
                acc += n
                le_text = "+Inf" if le == float("inf") else repr(le)
                out.append(f'xleval_request_duration_seconds_bucket{{{lab},le="{le_text}"}} {acc}')
            out.append(f"xleval_request_duration_seconds_sum{{{lab}}} {self.sums[(m, r)]:.6f}")
            out.append(f"xleval_request_duration_seconds_count{{{lab}}} {acc}")
        for name, (kind, help_text, value) in extra.items():
            out += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value:g}"]
        return "\n".join(out) + "\n"
