"""Reference values: what a reference expression evaluates to before a function or an
operator asks for the values behind it (INDEX, OFFSET, ROW, SUMIF... need the reference
itself, so it stays a reference until dereferenced)."""
from __future__ import annotations


class Range:
    """A rectangular area on one sheet (sheet is an index into the engine's sheet list)."""

    __slots__ = ("sheet", "r1", "c1", "r2", "c2")

    def __init__(self, sheet: int, r1: int, c1: int, r2: int, c2: int):
        self.sheet = sheet
        self.r1 = r1
        self.c1 = c1
        self.r2 = r2
        self.c2 = c2

    @property
    def nrows(self) -> int:
        return self.r2 - self.r1 + 1

    @property
    def ncols(self) -> int:
        return self.c2 - self.c1 + 1

    @property
    def is_cell(self) -> bool:
        return self.r1 == self.r2 and self.c1 == self.c2

    def __repr__(self) -> str:
        from ..refs import range_name
        return f"Range({self.sheet}!{range_name(self.r1, self.c1, self.r2, self.c2)})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Range) and self.sheet == other.sheet and self.r1 == other.r1
                and self.c1 == other.c1 and self.r2 == other.r2 and self.c2 == other.c2)

    def __hash__(self) -> int:
        return hash((self.sheet, self.r1, self.c1, self.r2, self.c2))

    def key(self) -> tuple[int, int, int, int, int]:
        return (self.sheet, self.r1, self.c1, self.r2, self.c2)


class RefList:
    """Several areas: a union (A1:B2,D4) or a 3-D reference (Sheet1:Sheet3!A1)."""

    __slots__ = ("areas",)

    def __init__(self, areas: list[Range]):
        self.areas = areas

    def __repr__(self) -> str:
        return f"RefList({self.areas!r})"


def is_ref(v) -> bool:
    return isinstance(v, (Range, RefList))
