"""Deflate for the zip parts of a workbook: ISA-L's (python-isal) where it is installed, else
zlib's. Its output is plain deflate, read by any zip reader.

Measured on the benchmark shapes' patched sheets (3-39 MB of XML): at level 1, ISA-L
compresses 3-3.5x faster than zlib at its fastest level (17 -> 5.5 ms ... 232 -> 64 ms) into
files 7-12% smaller, and inflates 1.4-1.7x faster (the writer's reading of the source's
parts). Where no wheel exists the install skips it (see pyproject.toml) and zlib serves, at
the writer's level 1."""
from __future__ import annotations

import zipfile
import zlib

_impl = None        # isal_zlib, or zlib where it is not installed: imported on first use

# level 1: zlib's compresses 3-4x faster than its default 6 for files about a fifth larger
# (sheet XML: 4.7 MB -> 1.09 MB instead of 0.87 MB); ISA-L's is as fast as its level 0 and
# as small as its level 2
LEVEL = 1


def _implementation():
    """isal_zlib where it is installed, else zlib. Imported when first used, by the writer:
    its two libraries take ~0.5 MB of resident memory, which the loader would carry through
    the whole calculation for the few milliseconds it saves there."""
    global _impl
    if _impl is None:
        try:
            from isal import isal_zlib
            _impl = isal_zlib
        except ImportError:             # no wheel for this platform
            _impl = zlib
    return _impl


def compressor():
    """A raw deflate compressor (wbits -15) at the writer's level."""
    return (_impl or _implementation()).compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)


class _Inflater:
    """ISA-L's raw inflater as zipfile uses zlib's (decompress with a length bound, flush,
    eof, unconsumed_tail), its errors raised as zlib.error, as callers expect."""

    __slots__ = ("_d",)

    def __init__(self):
        self._d = _impl.decompressobj(-zlib.MAX_WBITS)      # (_impl is isal_zlib here)

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        try:
            return self._d.decompress(data, max_length)
        except _impl.error as exc:
            raise zlib.error(f"Error while decompressing data: {exc}") from None

    def flush(self, *args) -> bytes:
        try:
            return self._d.flush(*args)
        except _impl.error as exc:
            raise zlib.error(f"Error while decompressing data: {exc}") from None

    @property
    def eof(self) -> bool:
        return self._d.eof

    @property
    def unconsumed_tail(self) -> bytes:
        return self._d.unconsumed_tail

    @property
    def unused_data(self) -> bytes:
        return self._d.unused_data


_ZLIB_INFLATER = type(zlib.decompressobj())


def open_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo):
    """`zf.open(info)`, inflated by ISA-L when the member is deflated: the ZipExtFile still
    checks the CRC-32 and the length, and a damaged stream still raises zlib.error."""
    fh = zf.open(info)
    if (_implementation() is not zlib and info.compress_type == zipfile.ZIP_DEFLATED
            and type(getattr(fh, "_decompressor", None)) is _ZLIB_INFLATER):
        fh._decompressor = _Inflater()          # nothing read yet
    return fh


def use_fast_compressor(dst, info: zipfile.ZipInfo) -> None:
    """Have a member just opened for writing (`zout.open(info, "w")`, nothing written yet)
    compress with `compressor()`: the same format, faster."""
    if (_implementation() is not zlib and info.compress_type == zipfile.ZIP_DEFLATED
            and hasattr(dst, "_compressor")):
        dst._compressor = compressor()
