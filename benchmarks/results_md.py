"""RESULTS.md is written by several runners (`run.py`, `peers.py`, `load_service.py`, ...):
each owns some `## ` sections and must keep everybody else's. One function does that."""
from __future__ import annotations

import os
import pathlib


def _split(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(preamble, [(heading line, whole section text)]) of a Markdown file."""
    parts = ("\n" + text).split("\n## ")
    pre = parts[0][1:]
    return pre, [(p.split("\n", 1)[0].strip(), "## " + p) for p in parts[1:]]


def update_sections(path: pathlib.Path, text: str, *, owned: tuple[str, ...] = (),
                    preamble: bool = False) -> None:
    """Write `text` (one or more `## ` sections, and a preamble if `preamble`) into `path`:
    sections of `text`, and every section whose heading is in `owned`, are replaced; the
    others stay where they were. New sections take the place of the first one they replace,
    or go at the end. Written atomically."""
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    old_pre, old_secs = _split(old)
    new_pre, new_secs = _split(text)
    mine = {h for h, _ in new_secs} | {o.lstrip("# ").strip() for o in owned}
    out: list[str] = []
    placed = False
    for heading, body in old_secs:
        if heading in mine:
            if not placed:
                out += [b for _, b in new_secs]
                placed = True
        else:
            out.append(body)
    if not placed:
        out += [b for _, b in new_secs]
    head = new_pre if preamble else old_pre
    result = head.rstrip("\n") + "\n\n" + "\n".join(s.rstrip("\n") + "\n" for s in out)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(result, encoding="utf-8")
    os.replace(tmp, path)
