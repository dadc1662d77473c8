"""Typed exceptions for library callers; the CLI turns each into one line on stderr."""
from __future__ import annotations


class XlevalError(Exception):
    """Base of every error xleval raises on purpose."""


class WorkbookError(XlevalError):
    """A workbook could not be read. `path` names the file, the message says why."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.reason = message


class FileMissingError(WorkbookError):
    """The path does not exist or is not a regular file."""


class UnsupportedFormatError(WorkbookError):
    """Not an .xlsx/.xlsm workbook (legacy .xls, .xlsb, .ods, text, a zip of something else)."""


class EncryptedWorkbookError(WorkbookError):
    """The workbook is password-protected (an encrypted OLE container)."""


class CorruptWorkbookError(WorkbookError):
    """Truncated zip, malformed XML, missing required parts."""


class WorkbookTooLargeError(WorkbookError):
    """Declared or actual uncompressed sizes exceed the safety bounds (decompression bomb)."""


class ReferenceError_(XlevalError):
    """A cell or range reference given by the caller could not be understood."""


class OutputError(XlevalError):
    """The output could not be written."""
