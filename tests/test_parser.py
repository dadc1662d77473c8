import pytest

from xleval.parser.ast import Binary, Func, Literal, Name, Postfix, Ref, StructRef, Unary
from xleval.parser.parser import parse, shape_key
from xleval.parser.tokenizer import FormulaSyntaxError, tokenize
from xleval.refs import MAX_COL, MAX_ROW


def test_precedence_unary_minus_binds_tighter_than_power():
    t = parse("-2^2")
    assert isinstance(t, Binary) and t.op == "^"
    assert isinstance(t.left, Unary)


def test_precedence_chain():
    t = parse("1+2*3^2&\"x\"=\"19x\"")
    assert t.op == "="
    assert t.left.op == "&"
    assert t.left.left.op == "+"
    assert t.left.left.right.op == "*"
    assert t.left.left.right.right.op == "^"


def test_percent_and_power_left_assoc():
    t = parse("2^3^2")
    assert t.op == "^" and isinstance(t.left, Binary)
    assert isinstance(parse("50%"), Postfix)


def test_references_relative_to_origin():
    r = parse("B3", origin=(2, 1))
    assert (r.row1, r.col1, r.row1_abs, r.col1_abs) == (1, 1, False, False)
    r = parse("$B$3", origin=(2, 1))
    assert (r.row1, r.col1, r.row1_abs, r.col1_abs) == (3, 2, True, True)


def test_whole_column_and_row():
    c = parse("$A:$C")
    assert c.whole == "col" and (c.row1, c.row2, c.col1, c.col2) == (1, MAX_ROW, 1, 3)
    r = parse("$2:$2")
    assert r.whole == "row" and (r.col1, r.col2) == (1, MAX_COL)


def test_sheet_quoting_external_and_3d():
    r = parse("'It''s here'!A1")
    assert r.sheet == "It's here"
    r = parse("[2]Rates!$B$4")
    assert r.book == 2 and r.sheet == "Rates"
    r = parse("'[1]Sheet 1'!A1")
    assert r.book == 1 and r.sheet == "Sheet 1"
    r = parse("Sheet1:Sheet3!B2")
    assert (r.sheet, r.sheet2) == ("Sheet1", "Sheet3")


def test_functions_names_and_prefixes():
    f = parse("_xlfn.XLOOKUP(A1,B:B,C:C)")
    assert isinstance(f, Func) and f.name == "XLOOKUP" and len(f.args) == 3
    assert isinstance(parse("TaxRate"), Name)
    assert parse("LOG10(100)").name == "LOG10"
    assert parse("NORM.S.DIST(1,TRUE)").name == "NORM.S.DIST"


def test_array_constant_and_literals():
    a = parse('{1,-2;"a",TRUE}')
    assert a.rows == [[1.0, -2.0], ["a", True]]
    assert parse("#N/A").value.code == "#N/A"
    assert parse('"say ""hi"""').value == 'say "hi"'


def test_union_intersection_range():
    assert parse("SUM((A1,B2))").args[0].op == ","
    assert parse("A1:B5 B2:C3").op == " "
    assert parse("A1:INDEX(B:B,2)").op == ":"


def test_structured_references():
    s = parse("Table1[[#This Row],[Amount]]")
    assert isinstance(s, StructRef) and s.table == "Table1"
    assert parse("[@Qty]").table is None


def test_missing_arguments():
    f = parse("IF(A1,,1)")
    assert type(f.args[1]).__name__ == "Missing"


def test_shape_key_equal_for_copied_formulas():
    k1, _ = shape_key("A1*$B$1+SUM(C1:C3)", (1, 4))
    k2, _ = shape_key("A7*$B$1+SUM(C7:C9)", (7, 4))
    k3, _ = shape_key("A7*$B$2+SUM(C7:C9)", (7, 4))
    assert k1 == k2 and k1 != k3


@pytest.mark.parametrize("bad", ["1+", "SUM(1,2", "{1,2;3}", ")", "A1 +* 2", ""])
def test_syntax_errors(bad):
    with pytest.raises(FormulaSyntaxError):
        parse(bad)


def test_tokenize_intersection_only_between_references():
    kinds = [k for k, _ in tokenize("SUM( A1 , B1 ) + C1 D1")]
    assert kinds.count("isect") == 1
