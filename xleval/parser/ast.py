"""Formula syntax tree. References are stored in relative form: a relative row/column is an
offset from the formula's origin cell, an absolute one is the row/column itself, so one tree
serves every cell of a copied-down formula (its R1C1 shape)."""
from __future__ import annotations

from dataclasses import dataclass, field


class Node:
    __slots__ = ()


@dataclass(slots=True)
class Literal(Node):
    value: object                 # float, str, bool or XLError


@dataclass(slots=True)
class ArrayLit(Node):
    rows: list[list]              # list of rows of literal values


@dataclass(slots=True)
class Ref(Node):
    """A cell/area/whole-column/whole-row reference.

    row1/col1/row2/col2 are offsets when the matching *_abs flag is False, else absolute
    1-based indexes. Whole columns are rows 1..MAX_ROW absolute; whole rows likewise.
    `sheet` is None for the formula's own sheet, else a sheet name; `sheet2` ends a 3-D
    range (Sheet1:Sheet3!A1); `book` is an external workbook index ([1]Sheet!A1)."""
    row1: int
    col1: int
    row2: int
    col2: int
    row1_abs: bool = True
    col1_abs: bool = True
    row2_abs: bool = True
    col2_abs: bool = True
    sheet: str | None = None
    sheet2: str | None = None
    book: int | None = None
    whole: str = ""               # 'col' for A:A, 'row' for 1:1, '' otherwise
    invalid: bool = False         # #REF! reference


@dataclass(slots=True)
class Name(Node):
    name: str
    sheet: str | None = None      # Sheet1!Name
    book: int | None = None       # [1]!Name


@dataclass(slots=True)
class StructRef(Node):
    table: str | None             # None: the table that contains the formula cell
    spec: str                     # text inside the outer brackets


@dataclass(slots=True)
class Func(Node):
    name: str                     # upper case, _xlfn./_xlws. prefixes removed
    args: list[Node] = field(default_factory=list)


@dataclass(slots=True)
class Missing(Node):
    """An omitted argument: IF(A1,,2)."""


@dataclass(slots=True)
class Unary(Node):
    op: str                       # '-', '+', '@'
    operand: Node


@dataclass(slots=True)
class Postfix(Node):
    op: str                       # '%', '#'
    operand: Node


@dataclass(slots=True)
class Binary(Node):
    op: str                       # + - * / ^ & = <> < <= > >= : ' ' (isect) ',' (union)
    left: Node
    right: Node


CHAIN_NODES = (Binary, Postfix)   # the operators of a chain =1+2+...%: each node the
#                                  left operand (operand) of the next


def op_chain(node: Node) -> tuple[Node, list[Node]]:
    """A chain of binary/postfix operators, iteratively: (its first operand, its operator
    nodes from the first applied to the last). Chains can be thousands of nodes long."""
    spine = []
    while type(node) in CHAIN_NODES:
        spine.append(node)
        node = node.left if type(node) is Binary else node.operand
    spine.reverse()
    return node, spine


def walk(node: Node):
    """Every node of a tree, iteratively (no recursion)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, Func):
            stack.extend(n.args)
        elif isinstance(n, (Unary, Postfix)):
            stack.append(n.operand)
        elif isinstance(n, Binary):
            stack.append(n.left)
            stack.append(n.right)
