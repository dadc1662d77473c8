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


def test_anchorarray_is_the_spill_operator():
    # files store the spill operator A1# as _xlfn.ANCHORARRAY(A1): one tree for both
    assert parse("_xlfn.ANCHORARRAY(B2)+1", (1, 1)) == parse("B2#+1", (1, 1))
    assert parse("SUM(_xlfn.ANCHORARRAY(Sheet2!$A$1))") == parse("SUM(Sheet2!$A$1#)")
    assert isinstance(parse("_xlfn.ANCHORARRAY(A1)"), Postfix)


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


# ----------------------------------------------------------------------------------------
# skeletons: formulas that differ only in their numbers share one parse
# ----------------------------------------------------------------------------------------
from xleval.parser.parser import (fast_shape_key, parse_template, skeleton_key,  # noqa: E402
                                  template_builder)


def test_skeleton_equal_when_only_numbers_differ():
    k1, n1, f1 = skeleton_key("IF(A2>12.5,A2*1E+3,-B2/.25)", (2, 3))
    k2, n2, f2 = skeleton_key("IF(A9>7,A9*2.5e-2,-B9/4.)", (9, 3))
    assert k1 == k2
    assert n1 == ["12.5", "1E+3", ".25"] and n2 == ["7", "2.5e-2", "4."]
    # the third part is the ordinary fast shape key (numbers kept): shapes stay distinct
    assert f1 == fast_shape_key("IF(A2>12.5,A2*1E+3,-B2/.25)", (2, 3)) and f1 != f2
    # other references or functions give another skeleton
    assert skeleton_key("IF(A9>7,A8*2,-B9/4)", (9, 3))[0] != k1
    assert skeleton_key("LOG10(A1)+2", (1, 2))[1] == ["2"]      # LOG10 is no number


@pytest.mark.parametrize("text", ['A1&"1"', "{1,2}+A1", "'My 1'!A1+1", "Table1[Col]+1"])
def test_skeleton_skips_text_arrays_and_quoted_names(text):
    assert skeleton_key(text, (1, 1)) is None


@pytest.mark.parametrize("first,other,origin", [
    ("IF(AND(A2>12.11,B2<13.11),A2-B2,A2+B2*14.11)",
     "IF(AND(A2>1.5,B2<2E+2),A2-B2,A2+B2*3)", (2, 3)),
    ("SUM($A$1:A5)*2%+MAX(3,B5^0.5)", "SUM($A$1:A5)*7%+MAX(0,B5^4)", (5, 4)),
    ("1+2", "3+4", (1, 1)),
])
def test_template_builder_gives_the_tree_the_parser_gives(first, other, origin):
    assert skeleton_key(first, origin)[0] == skeleton_key(other, origin)[0]
    tree, slots = parse_template(first, origin)
    assert [s.value for s in slots] == [float(x) for x in skeleton_key(first, origin)[1]]
    values = [float(x) for x in skeleton_key(other, origin)[1]]
    assert template_builder(tree, slots)(values) == parse(other, origin)
    assert tree == parse(first, origin)          # the template itself is left as it was


def test_numbers_only_formulas_calculate_like_distinct_formulas():
    from xleval import Workbook
    cells = {f"A{r}": float(r) for r in range(1, 41)}
    cells.update({f"B{r}": f"=IF(A{r}>{r % 5},A{r}*{r}.5,-{r}E-1)" for r in range(1, 41)})
    cells["C1"] = "=1/0+A1"            # #DIV/0! as a value: its 0 is not a number token
    cells["C2"] = "=IF(A2>0,#DIV/0!,3)"
    cells["C3"] = "=IF(A3>0,#DIV/0!,4)"
    wb = Workbook.from_dict({"S": cells})
    wb.calculate()
    for r in range(1, 41):
        want = r * (r + 0.5) if r > r % 5 else -r / 10
        assert wb[f"S!B{r}"] == pytest.approx(want, rel=1e-15)
    assert str(wb["S!C1"]) == "#DIV/0!" and str(wb["S!C2"]) == "#DIV/0!"
    assert str(wb["S!C3"]) == "#DIV/0!"
    shapes = wb.engine.shapes
    assert len(shapes) == 43
    assert len({sh.family for sh in shapes if sh.text.startswith("IF(A") and
                "#" not in sh.text}) == 1
    # the 0 of #DIV/0! would be taken for a number: that skeleton is never shared
    fam = {sh.text: sh.family for sh in shapes}
    assert fam["IF(A2>0,#DIV/0!,3)"] != fam["IF(A3>0,#DIV/0!,4)"]
    # one closure serves the family: members differ only in their numbers (cx.k)
    members = [sh for sh in shapes if sh.text.startswith("IF(A") and sh.k is not None]
    assert len(members) == 39 and len({id(sh.fn) for sh in members}) == 1
    assert members[0].k == (2.0, 2.5, 0.2)          # IF(A2>2,A2*2.5,-2E-1)
    # a member's tree is built on demand, and is the parser's tree for its text
    from xleval.parser.parser import parse as parse_text
    assert members[5].tree == parse_text(members[5].text, members[5].origin)


def test_family_members_are_found_by_their_numbers_also_after_preparing():
    """A formula typed again (or set after prepare(), which drops the members-by-numbers
    lookup) is the member with the same numbers: one shape, not one per cell."""
    from xleval import Workbook
    from xleval.parser.parser import skeleton_key as skel_key
    cells = {f"A{r}": float(r) for r in range(1, 11)}
    cells.update({f"B{r}": f"=A{r}*{r}.5+1" for r in range(1, 6)})
    cells["C3"] = "=B3*3.5+1"          # B3's formula one column right: the same member
    wb = Workbook.from_dict({"S": cells})
    wb.calculate()
    ev = wb.engine
    cs = ev.cell_shape[0]
    assert cs[(3, 3)] is cs[(3, 2)] and cs[(3, 2)].k == (3.5, 1.0)
    assert cs[(3, 2)].key == skel_key("A3*3.5+1", (3, 2))[2]     # made again when asked
    n = len(ev.shapes)
    for r in (6, 7, 8):
        wb.set_value(f"S!B{r}", f"=A{r}*4.5+1")   # B4's member, copied down
    wb.set_value("S!B9", "=A9*9.25+1")            # a new member
    assert cs[(6, 2)] is cs[(4, 2)] and cs[(8, 2)] is cs[(4, 2)]
    assert len(ev.shapes) == n + 1 and cs[(9, 2)].family == cs[(1, 2)].family
    wb.calculate()
    assert wb["S!B7"] == 7 * 4.5 + 1 and wb["S!B9"] == 9 * 9.25 + 1


def test_family_member_lookup_is_a_window_while_preparing(monkeypatch):
    """While preparing, a member is found by its numbers only among the last
    MEMBER_WINDOW members made (the lookups are emptied then, to hold no entry per cell
    to the end): a member typed again a row later is the same shape; one typed again
    after the window is a shape of its own with the same numbers. Values are the same
    either way; the numbers live in the family's flat array."""
    from xleval import Workbook
    from xleval.evaluator import engine as E
    monkeypatch.setattr(E, "MEMBER_WINDOW", 4)
    cells = {}
    for r in range(1, 31):               # row by row, as a sheet is read
        cells[f"A{r}"] = float(r)
        cells[f"B{r}"] = f"=A{r}*{r}.5+1"                   # a member per row
        if r > 1:
            cells[f"C{r}"] = f"=B{r}*{r}.5+1"               # B's, one column on
    cells["D1"] = "=C1*2.5+1"          # B2's numbers after 28 members: past the window
    wb = Workbook.from_dict({"S": cells})
    wb.calculate()
    ev = wb.engine
    cs = ev.cell_shape[0]
    assert cs[(7, 3)] is cs[(7, 2)] and cs[(7, 2)].k == (7.5, 1.0)
    assert cs[(1, 4)] is not cs[(2, 2)] and cs[(1, 4)].k == cs[(2, 2)].k == (2.5, 1.0)
    assert cs[(1, 4)].family == cs[(2, 2)].family == cs[(1, 2)].family
    assert cs[(9, 2)].nums is cs[(3, 2)].nums                     # one array per family
    for r in range(2, 31):
        b = r * (r + 0.5) + 1
        assert wb[f"S!B{r}"] == b and wb[f"S!C{r}"] == b * (r + 0.5) + 1
    assert wb["S!D1"] == 0 * 2.5 + 1                 # C1 is blank


def test_family_numbers_reach_lambda_let_and_nested_calls():
    """A family closure reads each cell's own numbers, also inside LET, LAMBDA bodies
    (called in the cell) and nested functions; the expected values are worked by hand."""
    from xleval import Workbook
    rows = range(1, 31)
    cells = {f"A{r}": float(r) for r in rows}
    cells.update({f"B{r}": f"=LET(x,A{r}*{r}.25,x+{r})" for r in rows})
    cells.update({f"C{r}": f"=SUM(MAP(A{r},LAMBDA(y,y*{r}+0.5)))" for r in rows})
    cells.update({f"D{r}": f"=ROUND(MAX(A{r},{r + 1})/{r + 3},3)" for r in rows})
    cells.update({f"E{r}": f"=IF(A{r}>{r % 7},SUM(A{r},{r}),-{r})" for r in rows})
    wb = Workbook.from_dict({"S": cells})
    wb.calculate()
    for r in rows:
        assert wb[f"S!B{r}"] == pytest.approx(r * (r + 0.25) + r, rel=1e-15)
        assert wb[f"S!C{r}"] == pytest.approx(r * r + 0.5, rel=1e-15)
        assert wb[f"S!D{r}"] == round((r + 1) / (r + 3), 3)
        assert wb[f"S!E{r}"] == (2.0 * r if r > r % 7 else -r)
    fns = {}
    for sh in wb.engine.shapes:
        fns.setdefault(sh.text[:2], set()).add(id(sh.fn))
    # the template (first member) has its own closure, every other member the family's
    assert all(len(ids) == 2 for ids in fns.values())


# ----------------------------------------------------------------------------------------
# deep nesting and long chains: bounded recursion, never a bare RecursionError
# ----------------------------------------------------------------------------------------
from xleval.parser.ast import walk  # noqa: E402
from xleval.parser.parser import MAX_NESTING  # noqa: E402


def _flat(tree):
    """A tree as a flat list (walk() is iterative; == on dataclass trees recurses in C)."""
    out = []
    for n in walk(tree):
        if isinstance(n, (Binary, Unary, Postfix)):
            out.append((type(n).__name__, n.op))
        elif isinstance(n, Func):
            out.append(("Func", n.name, len(n.args)))
        else:
            out.append(n)                # a leaf: compared as it is
    return out


def _at_stack_depth(frames, fn):
    """fn() called `frames` Python frames deeper than here (as from a deep caller)."""
    def down(k):
        return fn() if k == 0 else down(k - 1)
    return down(frames)


@pytest.mark.parametrize("text", [
    "(" * 1000 + "1" + ")" * 1000,
    "ABS(" * 1000 + "1" + ")" * 1000,
    "-" * 1000 + "1",
    "+" * 5000 + "1",
    "IF(TRUE," * 1200 + "1" + ",0)" * 1200,
    "LAMBDA(x,x)" + "(1)" * 1000,
    "(" * 20000 + "1" + ")" * 20000,
])
def test_nesting_beyond_the_limit_is_a_syntax_error_not_a_recursion_error(text):
    for fn in (lambda: parse(text), lambda: parse_template(text, (1, 1))):
        with pytest.raises(FormulaSyntaxError, match="nested too deeply"):
            fn()


def test_nesting_up_to_the_limit_parses_and_a_deep_caller_gets_a_syntax_error():
    import sys
    limit = sys.getrecursionlimit()
    n = MAX_NESTING
    t = parse("(" * n + "2" + ")" * n)
    assert t == Literal(2.0)
    with pytest.raises(FormulaSyntaxError, match="nested too deeply"):
        parse("(" * (n + 1) + "2" + ")" * (n + 1))
    t = parse("-" * n + "2")
    for _ in range(n):
        assert isinstance(t, Unary) and t.op == "-"
        t = t.operand
    assert t == Literal(2.0)
    with pytest.raises(FormulaSyntaxError, match="nested too deeply"):
        parse("-" * (n + 1) + "2")
    t = parse("ABS(" * 64 + "1" + ")" * 64)        # Excel's 64 levels of functions
    for _ in range(64):
        assert isinstance(t, Func) and t.name == "ABS" and len(t.args) == 1
        t = t.args[0]
    assert t == Literal(1.0)
    # within the limit, but more than the stack left to a caller already deep in it: a
    # syntax error too, never a RecursionError; the recursion limit is left alone
    text = "IF(1=1&1+1*1^-" * 60 + "1" + ")" * 60
    assert len(_flat(parse(text))) == 60 * 12 + 1
    for fn in (lambda: parse(text), lambda: parse_template(text, (1, 1))):
        with pytest.raises(FormulaSyntaxError, match="nested too deeply"):
            _at_stack_depth(limit - 100, fn)
    assert sys.getrecursionlimit() == limit


def test_long_flat_chains_are_not_nesting():
    n = 4000
    text = "+".join(["1"] * n)                      # 7,999 characters: Excel takes 8,192
    t = parse(text)
    depth = 0
    while isinstance(t, Binary):                    # left-deep: ((1+1)+1)+...
        assert t.op == "+" and t.right == Literal(1.0)
        t, depth = t.left, depth + 1
    assert depth == n - 1 and t == Literal(1.0)
    t = parse("1" + "%" * 3000)
    assert sum(isinstance(x, Postfix) for x in walk(t)) == 3000
    # a chain inside nested calls
    t = parse("ABS(" * 64 + "+".join(["A1"] * 1000) + ")" * 64)
    assert sum(isinstance(x, Ref) for x in walk(t)) == 1000


def test_template_builder_on_long_chains_and_deep_nesting():
    cases = [
        ("+".join(str(i) for i in range(1, 3001)),
         "+".join(str(2 * i) for i in range(1, 3001))),
        ("A1*2+" + "+".join(["B1"] * 1500) + "+7%%", "A1*3+" + "+".join(["B1"] * 1500) + "+8%%"),
        ("+".join(["B1"] * 1500) + "-4", "+".join(["B1"] * 1500) + "-5"),   # the last only
        ("ABS(" * 64 + "1+" + "+".join(["B1"] * 500) + ")" * 64,
         "ABS(" * 64 + "9+" + "+".join(["B1"] * 500) + ")" * 64),
    ]
    for first, other in cases:
        tree, slots = parse_template(first, (1, 1))
        values = [float(x) for x in skeleton_key(other, (1, 1))[1]]
        assert len(values) == len(slots)
        built = template_builder(tree, slots)(values)
        assert _flat(built) == _flat(parse(other, (1, 1)))
        assert _flat(tree) == _flat(parse(first, (1, 1)))        # left as it was
