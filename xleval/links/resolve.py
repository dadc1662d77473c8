"""Where an external link points, and whether xleval may open it.

A link target is written in the external-link part's relationship exactly as Excel saved it:
`prices.xlsx`, `../data/prices.xlsx`, `/abs/path.xlsx`, `file:///C:\\Finance\\prices.xlsx`,
`https://host/share/prices.xlsx`, often %-encoded (`Q3%20prices.xlsx`).

Only files inside the *allowed folders* are opened: the folder of the workbook being
calculated and, when given, `--links-dir`. The rules:

  * a URL (http, https, ftp, ...) is never fetched: refused;
  * a Windows path (`C:\\...`, `\\\\server\\share\\...`, `file:///C:/...`, anything with a
    backslash) cannot mean anything on this machine: its file name is looked up in the
    allowed folders;
  * a relative path is joined to `--links-dir` first, then to the linking workbook's own
    folder, then to the other allowed folders; when it is found in none of them, its file
    name alone is looked up in the allowed folders (the linked files were moved next to the
    workbook); an absolute POSIX path is taken as it is;
  * the result is resolved with `os.path.realpath` (so `..` and symlinks are followed) and
    must lie inside an allowed folder (`os.path.commonpath`), else it is refused; a target
    that escapes is refused even when a file of the same name exists elsewhere.

`resolve_target` returns a `Resolved` with status `found`, `missing`, `refused` or
`unreadable` (exists but is not a readable file, or not a zip package).
"""
from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = ["Resolved", "allowed_folders", "resolve_target", "inside"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+):")
_DRIVE = re.compile(r"^/?[A-Za-z]:[\\/]")


@dataclass
class Resolved:
    target: str                  # as written
    status: str                  # found / missing / refused / unreadable
    path: str | None = None      # the real path of the file (found / unreadable)
    reason: str = ""             # why it is not usable, in plain words

    @property
    def ok(self) -> bool:
        return self.status == "found"


def allowed_folders(workbook_path: str, links_dir: str | None = None) -> list[str]:
    """The real paths of the folders links may be opened from."""
    out = []
    if links_dir:
        out.append(os.path.realpath(links_dir))
    if workbook_path and workbook_path != "<memory>":
        out.append(os.path.dirname(os.path.realpath(workbook_path)))
    seen: list[str] = []
    for d in out:
        if d not in seen:
            seen.append(d)
    return seen


def inside(path: str, folders: list[str]) -> bool:
    """True when the real path `path` lies inside (or is) one of `folders`."""
    for d in folders:
        try:
            if os.path.commonpath([path, d]) == d:
                return True
        except ValueError:      # different drives (Windows) / mixed absolute and relative
            continue
    return False


def _check_file(target: str, path: str) -> Resolved:
    if not os.path.isfile(path):
        return Resolved(target, "unreadable", path, "not a regular file")
    if not os.access(path, os.R_OK):
        return Resolved(target, "unreadable", path, "permission denied")
    try:
        is_zip = zipfile.is_zipfile(path)
    except OSError as e:
        return Resolved(target, "unreadable", path, f"cannot be read ({e.strerror or e})")
    if not is_zip:
        ext = os.path.splitext(path)[1].lower()
        why = "legacy .xls workbook (not supported)" if ext == ".xls" else \
            "not an .xlsx/.xlsm workbook (not a zip package)"
        return Resolved(target, "unreadable", path, why)
    return Resolved(target, "found", path)


def _by_basename(target: str, name: str, folders: list[str]) -> Resolved:
    if not name or name in (".", ".."):
        return Resolved(target, "missing", None, "no file name in the link")
    for d in folders:
        cand = os.path.realpath(os.path.join(d, name))
        if inside(cand, folders) and os.path.exists(cand):
            return _check_file(target, cand)
    return Resolved(target, "missing", None,
                    f"{name} not found in {', '.join(folders) or 'any allowed folder'}")


def resolve_target(target: str, folders: list[str], base: str | None = None,
                   prefer: str | None = None) -> Resolved:
    """Resolve a link target. `folders` are the allowed folders (real paths); `base` is the
    folder of the linking workbook; `prefer` is `--links-dir`. A relative target is tried
    in `prefer`, then `base`, then the other folders; a file name alone (Windows paths) in
    `prefer`, then the other folders."""
    if prefer:
        prefer = os.path.realpath(prefer)
        folders = [prefer] + [d for d in folders if d != prefer]
    raw = (target or "").strip()
    if not raw:
        return Resolved(target, "missing", None, "the link has no target")
    if "|" in raw and not _DRIVE.match(raw):
        return Resolved(target, "refused", None, "DDE/OLE link, not a workbook file")
    text = raw
    m = _SCHEME.match(text)
    if m and len(m.group(1)) > 1:           # a scheme, not a drive letter
        scheme = m.group(1).lower()
        if scheme != "file":
            return Resolved(target, "refused", None, f"{scheme} URL: links are never fetched")
        text = text[len(m.group(0)):]
        if text.startswith("//"):
            host_path = text[2:]
            host, _, rest = host_path.partition("/")
            if host and host.lower() != "localhost" and not _DRIVE.match(host_path):
                # file://server/share/...: a network share
                return _by_basename(target, _basename(unquote(rest)), folders)
            text = "/" + rest if not _DRIVE.match(host_path) else host_path
    text = unquote(text)
    if "\\" in text or _DRIVE.match(text):
        # a Windows path (drive, UNC, backslashes): only its file name means anything here
        return _by_basename(target, _basename(text), folders)
    if os.path.isabs(text):
        real = os.path.realpath(text)
        if not inside(real, folders):
            return Resolved(target, "refused", real,
                            "absolute path outside the allowed folders")
        if not os.path.exists(real):
            return Resolved(target, "missing", real, "no such file")
        return _check_file(target, real)
    bases = [prefer] if prefer else []
    if base and os.path.realpath(base) not in bases:
        bases.append(os.path.realpath(base))
    bases.extend(d for d in folders if d not in bases)
    escaped = None
    for b in bases:
        cand = os.path.realpath(os.path.join(b, text))
        if not inside(cand, folders):
            escaped = cand
            continue
        if os.path.exists(cand):
            return _check_file(target, cand)
    if escaped is not None:
        return Resolved(target, "refused", escaped,
                        "resolves outside the allowed folders ('..' or a symlink)")
    name = _basename(text)
    if name != text:
        # the linked files were moved next to the workbook (or into --links-dir)
        got = _by_basename(target, name, folders)
        if got.status != "missing":
            return got
    return Resolved(target, "missing", None,
                    f"{text} not found in {', '.join(bases) or 'any allowed folder'}")


def _basename(path: str) -> str:
    return re.split(r"[\\/]", path.rstrip("\\/"))[-1]
