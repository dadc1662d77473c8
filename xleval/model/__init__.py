"""Compiled models for data pipelines: `compile` a workbook's calculation from input cells to
output cells, call it per scenario or per DataFrame batch, save and load it without the
workbook. See compiled.py (the sub-graph, the save format) and batch.py (batches)."""
from __future__ import annotations

from .compiled import FORMAT_VERSION, Model, ModelError, compile, load_model

__all__ = ["compile", "load_model", "Model", "ModelError", "FORMAT_VERSION"]
