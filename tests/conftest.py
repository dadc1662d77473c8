"""Fixtures shared by several test files."""
from __future__ import annotations

import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def bench_generate():
    """benchmarks/generate.py (the benchmark workbook generator) as a module."""
    spec = importlib.util.spec_from_file_location("xleval_bench_generate",
                                                  ROOT / "benchmarks" / "generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
