"""Executing an evaluation plan. `serial` evaluates layer after layer in this process;
the parallel strategies (pool / process / auto) plug in here."""
from __future__ import annotations

from .serial import run_serial

STRATEGIES = ("serial",)


def run_plan(engine, plan, *, strategy: str = "serial", workers: int | None = None) -> None:
    if strategy not in STRATEGIES and strategy != "auto":
        raise ValueError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    run_serial(engine, plan)
