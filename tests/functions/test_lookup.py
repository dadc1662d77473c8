"""Lookup & Reference functions. Expected values: the examples of Microsoft's support pages
for each function (cited [doc]), hand derivation from the documented rules (cited [hand]),
or a behaviour seen in the Excel-saved workbooks of the conformance corpus, reproduced here
on small inputs of our own (cited [excel])."""
import pytest

import xleval
from xleval.loader.model import DefinedName, ExternalBook
from xleval.values import XLError

VALUE = XLError("#VALUE!")
REF = XLError("#REF!")
NA = XLError("#N/A")
NUM = XLError("#NUM!")
CALC = XLError("#CALC!")
DIV0 = XLError("#DIV/0!")


def ev(formula, cells=None):
    return xleval.evaluate(formula, cells or {})


def calc(sheets, names=(), externals=()):
    wb = xleval.Workbook.from_dict(sheets if "Sheet1" in sheets else {"Sheet1": sheets})
    if names or externals:
        wb.data.names.extend(names)
        wb.data.externals.extend(externals)
        wb = xleval.Workbook(wb.data)
    wb.calculate()
    return wb


# [doc] the VLOOKUP page's density / viscosity / temperature table (A2:C10)
DENSITY = {}
for i, (d, v, t) in enumerate([(.457, 3.55, 500), (.525, 3.25, 400), (.606, 2.93, 300),
                               (.675, 2.75, 250), (.746, 2.57, 200), (.835, 2.38, 150),
                               (.946, 2.17, 100), (1.09, 1.95, 50), (1.29, 1.71, 0)], start=2):
    DENSITY[f"A{i}"], DENSITY[f"B{i}"], DENSITY[f"C{i}"] = d, v, t


@pytest.mark.parametrize("formula, expected", [
    ("VLOOKUP(1,A2:C10,2)", 2.17),              # [doc]
    ("VLOOKUP(1,A2:C10,3,TRUE)", 100.0),        # [doc]
    ("VLOOKUP(0.7,A2:C10,3,FALSE)", NA),        # [doc] no exact 0.7
    ("VLOOKUP(0.1,A2:C10,2,TRUE)", NA),         # [doc] below the first value
    ("VLOOKUP(2,A2:C10,2,TRUE)", 1.71),         # [doc] above the last value
    ("VLOOKUP(0.746,A2:C10,3,0)", 200.0),       # [hand] range_lookup given as a number
    ("VLOOKUP(0.746,A2:C10,3,)", 200.0),        # [hand] an empty argument is FALSE
    ("VLOOKUP(0.746,A2:C10,0,FALSE)", VALUE),   # [doc] col_index_num < 1
    ("VLOOKUP(0.746,A2:C10,4,FALSE)", REF),     # [doc] col_index_num > columns
    ("VLOOKUP(#DIV/0!,A2:C10,2)", DIV0),        # [hand] the lookup value's error
])
def test_vlookup_doc(formula, expected):
    assert ev(formula, DENSITY) == expected


def test_vlookup_exact_types_and_wildcards():
    cells = {"A1": "1", "B1": "text one", "A2": 1, "B2": "number one", "A3": True, "B3": "t",
             "A4": "a*c", "B4": "star", "A5": "abc", "B5": "plain", "A6": None, "B6": "blank",
             "A7": "#N/A", "B7": "err"}
    assert ev('VLOOKUP(1,A1:B7,2,FALSE)', cells) == "number one"     # [hand] 1 is not "1"
    assert ev('VLOOKUP("1",A1:B7,2,FALSE)', cells) == "text one"
    assert ev('VLOOKUP(TRUE,A1:B7,2,FALSE)', cells) == "t"           # [hand] not 1
    assert ev('VLOOKUP("A~*C",A1:B7,2,FALSE)', cells) == "star"      # [doc] ~ escapes *
    assert ev('VLOOKUP("a?c",A1:B7,2,FALSE)', cells) == "star"       # [hand] first match
    assert ev('VLOOKUP("ab*",A1:B7,2,FALSE)', cells) == "plain"
    assert ev('VLOOKUP("ABC",A1:B7,2,FALSE)', cells) == "plain"      # [doc] case-insensitive
    assert ev('VLOOKUP(0,A1:B7,2,FALSE)', cells) == NA               # [excel] blank is not 0
    assert ev('VLOOKUP("",A1:B7,2,FALSE)', cells) == NA
    assert ev('VLOOKUP(2,A1:B7,2,FALSE)', cells) == NA


def test_vlookup_returns_blank_as_zero_and_array_table():
    assert ev('VLOOKUP(2,A1:B2,2,FALSE)', {"A1": 1, "A2": 2, "B1": 5}) == 0.0   # [hand]
    assert ev('VLOOKUP(2,{1,"a";2,"b";3,"c"},2)') == "b"                        # [hand]
    # [excel] an array col_index_num uses its first value
    assert ev('VLOOKUP(2,{1,"a","x";2,"b","y"},{3,2},FALSE)') == "y"


@pytest.mark.parametrize("formula, expected", [
    ('HLOOKUP("Axles",A1:C4,2,TRUE)', 4.0),       # [doc]
    ('HLOOKUP("Bearings",A1:C4,3,FALSE)', 7.0),   # [doc]
    ('HLOOKUP("B",A1:C4,3,TRUE)', 5.0),           # [doc] largest value below "B" is Axles
    ('HLOOKUP("Bolts",A1:C4,4)', 11.0),           # [doc]
    ('HLOOKUP(3,{1,2,3;"a","b","c";"d","e","f"},2,TRUE)', "c"),   # [doc]
    ('HLOOKUP("Bolts",A1:C4,5)', REF),            # [doc] row index beyond the table
])
def test_hlookup_doc(formula, expected):
    cells = {"A1": "Axles", "B1": "Bearings", "C1": "Bolts", "A2": 4, "B2": 4, "C2": 9,
             "A3": 5, "B3": 7, "C3": 10, "A4": 6, "B4": 8, "C4": 11}
    assert ev(formula, cells) == expected


FRUIT = {"A2": "Bananas", "B2": 25, "A3": "Oranges", "B3": 38, "A4": "Apples", "B4": 40,
         "A5": "Pears", "B5": 41}


@pytest.mark.parametrize("formula, expected", [
    ("MATCH(39,B2:B5,1)", 2.0),          # [doc]
    ("MATCH(41,B2:B5,0)", 4.0),          # [doc]
    ("MATCH(40,B2:B5,-1)", NA),          # [doc] not in descending order
    ("MATCH(39,B2:B5)", 2.0),            # [doc] match_type defaults to 1
    ('MATCH("ap*",A2:A5,0)', 3.0),       # [hand] wildcard
    ('MATCH("APPLES",A2:A5,0)', 3.0),    # [hand]
    ("MATCH(41,A2:B5,0)", NA),           # [doc] not a vector
    ("MATCH(10,B2:B5,1)", NA),           # [hand] below the first value
])
def test_match_doc(formula, expected):
    assert ev(formula, FRUIT) == expected


@pytest.mark.parametrize("formula, expected", [
    # [excel] Excel's binary search on unsorted data: a probe that lands on another type
    # moves up to the next value of the lookup value's type; an exact hit ends the search
    ('MATCH(4.1,{"c bau c",4.1,"a",1.1})', 2.0),
    ('MATCH(4.1,{"a",2.1,"c bau c",4.1})', 4.0),
    ('MATCH(3,{"a",2.1,"c bau c",4.1})', 2.0),
    ('MATCH(TRUE,{TRUE,4.1,FALSE,1.1})', 3.0),
    ('MATCH(4,{4.1,3.1,2.1,1.1})', 4.0),
    ('MATCH("*b?u*",{"",4.1,"a",1.1})', 1.0),
    ('MATCH("b",{-1.1,2.1,3.1,4.1})', NA),     # text never compares with numbers
    # [hand] the last of equal values; the last number past text and blanks
    ('MATCH(2,{1,2,2,2,3})', 4.0),
    ('MATCH(9E+307,{1,2,"x",3})', 4.0),
    # [excel] MATCH(...,-1) walks from the start and stops at the first smaller value
    ('MATCH(-2,{-1.1,2.1,3.1,4.1},-1)', 4.0),
    ('MATCH(1.1,{-1.1,2.1,3.1,4.1},-1)', NA),
    ('MATCH(3,{"c bau c",4.1,"a",1.1},-1)', 2.0),
    ('MATCH(0,{3,2,2},-1)', 3.0),
    ('MATCH(0,{0,1,2},-1)', 1.0),
    ('MATCH(3,{5,4,3,2,1},-1)', 3.0),          # [hand] sorted descending
])
def test_match_approximate_like_excel(formula, expected):
    assert ev(formula) == expected


def test_match_blank_lookup_value():
    # [excel] a blank lookup value is 0 for the approximate modes, matches nothing exactly
    cells = {"A1": -1.1, "A2": 2.1, "A3": 3.1, "B1": 0}
    assert ev("MATCH(C1,A1:A3)", cells) == 1.0
    assert ev("MATCH(C1,B1:B3,0)", cells) == NA


def test_lookup_2_over_condition_returns_last_match():
    # [hand] LOOKUP(2,1/(cond),result): errors are skipped, the last 1 is found
    cells = {"A1": "x", "A2": "y", "A3": "x", "A4": "y", "B1": 1, "B2": 2, "B3": 3, "B4": 4}
    assert ev('LOOKUP(2,1/(A1:A4="x"),B1:B4)', cells) == 3.0


@pytest.mark.parametrize("formula, expected", [
    ("LOOKUP(4.19,A2:A6,B2:B6)", "orange"),   # [doc]
    ("LOOKUP(5.75,A2:A6,B2:B6)", "yellow"),   # [doc]
    ("LOOKUP(7.66,A2:A6,B2:B6)", "blue"),     # [doc]
    ("LOOKUP(0,A2:A6,B2:B6)", NA),            # [doc]
    ('LOOKUP("C",{"a","b","c","d";1,2,3,4})', 3.0),       # [doc] array form, wide
    ('LOOKUP("bump",{"a",1;"b",2;"c",3})', 2.0),          # [doc] array form, tall
    ("LOOKUP(5.2,A2:A6,B2)", "yellow"),       # [hand] a short result range is extended
    ("LOOKUP(5.2,A2:B6,B2:B6)", "yellow"),    # [excel] 2-D lookup vector: first column
    ("LOOKUP(5.2,A2:A6,B2:C6)", NA),          # [excel] 2-D result vector
])
def test_lookup_doc(formula, expected):
    cells = {"A2": 4.14, "A3": 4.19, "A4": 5.17, "A5": 5.77, "A6": 6.39, "B2": "red",
             "B3": "orange", "B4": "yellow", "B5": "green", "B6": "blue"}
    assert ev(formula, cells) == expected


XL = {"A1": "b", "B1": 10, "C1": 100, "A2": "a", "B2": 20, "C2": 200, "A3": "c", "B3": 30,
      "C3": 300, "A4": "a", "B4": 40, "C4": 400}


@pytest.mark.parametrize("formula, expected", [
    ('XLOOKUP("a",A1:A4,B1:B4)', 20.0),                    # [hand] first match
    ('XLOOKUP("a",A1:A4,B1:B4,,0,-1)', 40.0),              # [hand] search last to first
    ('XLOOKUP("z",A1:A4,B1:B4)', NA),                      # [doc] not found
    ('XLOOKUP("z",A1:A4,B1:B4,"none")', "none"),           # [doc] if_not_found
    ('XLOOKUP(25,B1:B4,A1:A4,,-1)', "a"),                  # [doc] exact or next smaller
    ('XLOOKUP(25,B1:B4,A1:A4,,1)', "c"),                   # [doc] exact or next larger
    ('XLOOKUP(45,B1:B4,A1:A4,,1)', NA),
    ('XLOOKUP("?",A1:A4,B1:B4,,2)', 10.0),                 # [doc] wildcard mode
    ('XLOOKUP("?",A1:A4,B1:B4)', NA),                      # [hand] no wildcards in mode 0
    ('XLOOKUP(30,B1:B4,A1:A4,,0,2)', "c"),                 # [hand] binary search
    ('XLOOKUP(35,B1:B4,A1:A4,,-1,2)', "c"),
    ('XLOOKUP(35,B1:B4,A1:A4,,1,2)', "a"),
    ('XLOOKUP("a",A1:A4,B1:B3)', VALUE),                   # [doc] sizes differ
    ('XLOOKUP("a",A1:A4,B1:B4,,5)', VALUE),                # [hand] bad match_mode
    ('XLOOKUP("a",A1:A4,B1:B4,,2,2)', VALUE),              # [excel] wildcard + binary
    ('XLOOKUP(#N/A,A1:A4,B1:B4,"x")', NA),                 # [hand] error lookup value
    ('SUM(XLOOKUP("c",A1:A4,B1:C4))', 330.0),              # [doc] a whole row returned
    ('XLOOKUP(20,B1:B4,C1:C4)', 200.0),
    ('XLOOKUP(300,{100,200,300},{"x","y","z"})', "z"),     # arrays
    ('XLOOKUP(2,{1,2,3},{4,5,6;7,8,9})', 5.0),             # [hand] a column: 5;8
    ('XLOOKUP(2,{1,2,3},{4,5})', VALUE),
])
def test_xlookup(formula, expected):
    assert ev(formula, XL) == expected


def test_xlookup_returns_reference():
    wb = calc({"A1": "x", "A2": "y", "B1": 1, "B2": 2, "C1": 3, "C2": 4,
               "D1": '=SUM(XLOOKUP("x",A1:A2,B1:B2):XLOOKUP("y",A1:A2,C1:C2))',
               "D2": '=ROW(XLOOKUP("y",A1:A2,B1:B2))',
               "E1:F1": '{=XLOOKUP("y",A1:A2,B1:C2)}'})
    assert wb["Sheet1!D1"] == 10.0        # [hand] B1:C2
    assert wb["Sheet1!D2"] == 2.0
    assert wb["Sheet1!E1:F1"] == [[2.0, 4.0]]


@pytest.mark.parametrize("formula, expected", [
    # [excel] XLOOKUP/XMATCH compare across types in sort order numbers < text < logicals
    # and a blank lookup value ranks above everything
    ('XMATCH("*b?u*",{FALSE,2.1,TRUE,4.1},-1)', 4.0),
    ('XMATCH(-2,{"a",TRUE,2.1,"c bau c",4.1},1)', 3.0),
    ('XMATCH(C1,{FALSE,2.1,TRUE,4.1},-1)', 3.0),
    ('XMATCH(C1,{-1.1,2.1,3.1,4.1},1)', NA),
    ('XMATCH(-2,{"",4.1,"a",1.1},1,2)', 1.0),       # binary search, unsorted data
    ('XMATCH(4.1,{"","a",1.1,4.1},0,2)', NA),
    ('XMATCH(FALSE,{"a",4.1,3,2.1,2,TRUE,"b"},-1,2)', 5.0),
    ('XMATCH(FALSE,{"a",FALSE,4.1,3,2.1,2,FALSE,"b"},1,-2)', 2.0),
    ('XMATCH("ß",{1,"ss",2.1})', 2.0),              # XMATCH folds ß to ss
    ('MATCH("ß",{1,"ss",2.1},0)', NA),              # MATCH does not
    ('XMATCH("ß",{1,"ss",2.1},2)', NA),             # nor the wildcard mode
    ('XLOOKUP(2.1,{-1.1,2.1,3.1,4.1},{"L","ML","MR","R"},1,0,-1.1)', "ML"),
    ('XLOOKUP(3.1,{-1.1,2.1,3.1,4.1},{"L","ML","MR","R"},1,0,-1.1)', 1.0),
    ('XLOOKUP(-1.1,{-1.1,2.1,3.1,4.1},{"L","ML","MR","R"},1,1,-1.1)', "R"),  # -1.1 is -2
    # [doc] XMATCH examples
    ("XMATCH(4,{5,4,3,2,1})", 2.0),
    ("XMATCH(4.5,{5,4,3,2,1},1)", 1.0),
    ("XMATCH(4,{5,4,3,2,1},0,3)", VALUE),
])
def test_xmatch_like_excel(formula, expected):
    assert ev(formula) == expected


@pytest.mark.parametrize("formula, expected", [
    ("INDEX(A2:B3,2,2)", "Pears"),            # [doc]
    ("INDEX(A2:B3,2,1)", "Bananas"),          # [doc]
    ("INDEX(A2:B3,3,1)", REF),                # [hand] out of range
    ("INDEX(A2:B3,-1,1)", VALUE),
    ("INDEX(A2:B3,2)", REF),                  # [excel] 2-D reference, one index
    ("INDEX(A2:A3,2)", "Bananas"),            # [doc] one column: the index is the row
    ("INDEX(A2:B2,2)", "Lemons"),             # one row: the index is the column
    ("INDEX({1,2;3,4},2,2)", 4.0),            # [doc] array form
    ("INDEX({1,2,3},3)", 3.0),
    ("INDEX({1,2;3,4},3,1)", REF),
    ("SUM(INDEX({1,2;3,4},0,2))", 6.0),       # [doc] whole column
    ("SUM(INDEX(A5:C7,0,3))", 18.0),          # [hand] reference column
    ("SUM(INDEX(A5:C7,2,0))", 15.0),
    ("SUM(INDEX(A5:C7,0,0))", 45.0),
    ("ROW(INDEX(A5:C7,3,1))", 7.0),           # a reference
    ("SUM(A5:INDEX(A5:C7,2,2))", 12.0),       # [hand] A5:B6
    ("INDEX((A5:B6,C7),1,1,2)", 9.0),         # [doc] area_num
    ("INDEX((A5:B6,C7),1,1,3)", REF),
    ("INDEX(A5:C7,1.9,1.9)", 1.0),            # [hand] truncated
])
def test_index(formula, expected):
    cells = {"A2": "Apples", "B2": "Lemons", "A3": "Bananas", "B3": "Pears",
             "A5": 1, "B5": 2, "C5": 3, "A6": 4, "B6": 5, "C6": 6, "A7": 7, "B7": 8, "C7": 9}
    assert ev(formula, cells) == expected


def test_index_array_positions_and_arrays_of_rows():
    wb = calc({"A1:B1": "{=INDEX({2,3;4,5},2)}",          # [excel] a whole row
               "C1:D1": "{=INDEX({2,3;4,5},{1,2})}",      # [excel] one per position: 2, 4
               "E1:F1": "{=INDEX({2,3;4,5},{1})}",        # [excel] a 1x1 array is lifted too
               "G1": "=INDEX(ROW(A1:A3),2)"})             # [excel] ROW gives an array here
    assert wb["Sheet1!A1:B1"] == [[4.0, 5.0]]
    assert wb["Sheet1!C1:D1"] == [[2.0, 4.0]]
    assert wb["Sheet1!E1:F1"] == [[2.0, 2.0]]
    assert wb["Sheet1!G1"] == 2.0


def test_offset():
    cells = {}
    for r in range(1, 11):
        for c in "ABCDE":
            cells[f"{c}{r}"] = r * 10 + "ABCDE".index(c)
    assert ev("SUM(OFFSET(C3:E5,-1,0,3,3))", cells) == sum(
        r * 10 + c for r in (2, 3, 4) for c in (2, 3, 4))          # [doc] shape kept
    assert ev("OFFSET(C3,2,3,1,1)", {"F5": 7}) == 7.0                # [doc]
    assert ev("OFFSET(C3,-3,0)", cells) == REF                      # [doc] off the sheet
    assert ev("ROWS(OFFSET(A1,0,0,4,2))", cells) == 4.0
    assert ev("COLUMNS(OFFSET(A1,0,0,4,2))", cells) == 2.0
    assert ev("SUM(OFFSET(B5,0,0,-3,1))", cells) == 31.0 + 41 + 51   # [hand] B3:B5
    assert ev("OFFSET(A1,1,1,0,1)", cells) == REF                   # [doc] height 0
    assert ev("OFFSET(5,1,1)", cells) == VALUE                      # [hand] not a reference
    assert ev("OFFSET(A1:B2,1,1)", cells) == VALUE      # [hand] 2x2 in a plain cell


def test_indirect_a1_r1c1_sheets_names_and_external():
    names = [DefinedName("Prices", "Sheet2!$A$1:$A$3"),
             DefinedName("Local", "Sheet1!$B$1", scope=0)]
    ext = [ExternalBook(index=1, target="other.xlsx", sheet_names=["Data"],
                        values={"Data": {(1, 1): 42.0}})]
    wb = calc({
        "Sheet1": {
            "A1": 1, "A2": 2, "A3": 3, "B1": 7, "B2": "A2", "B3": "Sheet2!A2",
            "D1": '=INDIRECT("A2")',                     # [doc]
            "D2": "=INDIRECT(B2)",                       # [doc] the text in a cell
            "D3": "=INDIRECT(B3)",
            "D4": '=SUM(INDIRECT("A1:A3"))',
            "D5": '=SUM(INDIRECT("\'My Sheet\'!B1:B2"))',
            "D6": '=INDIRECT("R2C1",FALSE)',             # [doc] R1C1 style
            "D7": '=INDIRECT("R[-6]C[-3]",FALSE)',       # relative to D7 -> A1
            "D8": '=SUM(INDIRECT("Prices"))',            # a defined name
            "D9": '=INDIRECT("Local")',
            "D10": '=INDIRECT("[1]Data!A1")',            # an external reference
            "D11": '=INDIRECT("nonsense!!")',            # [doc] not a reference: #REF!
            "D12": '=INDIRECT("A1",FALSE)',              # A1 text read as R1C1: #REF!
            "D13": '=INDIRECT("NoSuchSheet!A1")',
            "D14": '=SUM(INDIRECT("A:A"))',
            "D15": '=SUM(INDIRECT("C1",FALSE))',         # a whole column in R1C1
            "D16": '=INDIRECT("sheet2!a3")',             # case-insensitive
            "D17": '=INDIRECT("XFE1")',                  # past the last column
        },
        "Sheet2": {"A1": 10, "A2": 20, "A3": 30},
        "My Sheet": {"B1": 5, "B2": 6},
    }, names=names, externals=ext)
    got = [wb[f"Sheet1!D{i}"] for i in range(1, 18)]
    assert got == [2.0, 2.0, 20.0, 6.0, 11.0, 2.0, 1.0, 60.0, 7.0, 42.0, REF, REF, REF,
                   6.0, 6.0, 30.0, REF]


def test_row_column_rows_columns_areas():
    assert ev("ROW(C5)") == 5.0                          # [doc]
    assert ev("ROW()") == 1.0                            # the formula's own row (ZZ1)
    assert ev("COLUMN()") == 702.0                       # ZZ
    assert ev("COLUMN(D10)") == 4.0                      # [doc]
    assert ev("SUM(ROW(A2:A4))") == 9.0                  # [hand] {2;3;4}
    assert ev("SUM(COLUMN(B1:D1))") == 9.0
    assert ev("ROWS(C1:E4)") == 4.0                      # [doc]
    assert ev("ROWS({1,2,3;4,5,6})") == 2.0              # [doc]
    assert ev("COLUMNS({1,2,3;4,5,6})") == 3.0
    assert ev("ROWS(A:A)") == 1048576.0
    assert ev("COLUMNS(1:1)") == 16384.0
    assert ev("ROWS(5)") == 1.0
    assert ev("AREAS(B2:D4)") == 1.0                     # [doc]
    assert ev("AREAS((B2:D4,E5,F6:I9))") == 3.0          # [doc]
    assert ev("AREAS(B2:D4 B2)") == 1.0                  # [doc]
    wb = calc({"A3": "=ROW()", "C1": "=COLUMN()", "B2:B4": "{=ROW(A1:A3)}"})
    assert wb["Sheet1!A3"] == 3.0 and wb["Sheet1!C1"] == 3.0
    assert wb["Sheet1!B2:B4"] == [[1.0], [2.0], [3.0]]


@pytest.mark.parametrize("formula, expected", [
    ("ADDRESS(2,3)", "$C$2"),                        # [doc]
    ("ADDRESS(2,3,2)", "C$2"),                       # [doc]
    ("ADDRESS(2,3,3)", "$C2"),
    ("ADDRESS(2,3,4)", "C2"),
    ("ADDRESS(2,3,2,FALSE)", "R2C[3]"),              # [doc]
    ("ADDRESS(2,3,1,FALSE)", "R2C3"),
    ("ADDRESS(2,3,3,FALSE)", "R[2]C3"),
    ("ADDRESS(2,3,4,FALSE)", "R[2]C[3]"),
    ('ADDRESS(2,3,1,FALSE,"EXCEL SHEET")', "'EXCEL SHEET'!R2C3"),   # [doc]
    ('ADDRESS(2,3,1,TRUE,"Sheet1")', "Sheet1!$C$2"),
    ('ADDRESS(2,3,3,TRUE,"[Book1]Sheet1")', "[Book1]Sheet1!$C2"),    # [excel]
    ('ADDRESS(1,1,1,TRUE,"2019")', "'2019'!$A$1"),
    ("ADDRESS(1.1,3,4,4.1,B1)", "!C1"),              # [excel] blank sheet_text
    ("ADDRESS(3,4,4.1,B1)", "R[3]C[4]"),             # [excel] blank a1 is FALSE
    ("ADDRESS(0,1)", VALUE),
    ("ADDRESS(1,16385)", VALUE),
    ("ADDRESS(1,1,5)", VALUE),
    ("ADDRESS(1,28)", "$AB$1"),
])
def test_address(formula, expected):
    assert ev(formula) == expected


def arr(formula, rng, cells=None):
    sheet = dict(cells or {})
    sheet[rng] = "{=" + formula + "}"
    wb = calc(sheet)
    return wb["Sheet1!" + rng]


def test_transpose_filter_sort_unique_sequence():
    cells = {"A1": 1, "B1": 2, "A2": 3, "B2": 4}
    assert arr("TRANSPOSE(A1:B2)", "D1:E2", cells) == [[1.0, 3.0], [2.0, 4.0]]   # [doc]
    data = {"A1": "b", "B1": 3, "A2": "a", "B2": 1, "A3": "c", "B3": 2, "A4": "a", "B4": 5}
    assert arr("FILTER(A1:B4,B1:B4>2)", "D1:E2", data) == [["b", 3.0], ["a", 5.0]]
    assert ev("FILTER(A1:B4,B1:B4>9)", data) == CALC                        # [doc]
    assert ev('FILTER(A1:B4,B1:B4>9,"none")', data) == "none"
    assert ev("FILTER(A1:B4,B1:B3>0)", data) == VALUE
    assert arr("SORT(A1:B4,2,-1)", "D1:E4", data) == [
        ["a", 5.0], ["b", 3.0], ["c", 2.0], ["a", 1.0]]                     # [hand]
    assert arr("SORT(A1:B4)", "D1:E4", data) == [
        ["a", 1.0], ["a", 5.0], ["b", 3.0], ["c", 2.0]]                     # stable
    assert arr("SORT({3,1,2},1,1,TRUE)", "D1:F1") == [[1.0, 2.0, 3.0]]      # by column
    assert ev("SORT(A1:B4,3)", data) == VALUE
    assert arr("SORTBY(A1:A4,B1:B4,-1)", "D1:D4", data) == [["a"], ["b"], ["c"], ["a"]]
    assert arr("SORT({2;\"x\";TRUE;1})", "D1:D4") == [[1.0], [2.0], ["x"], [True]]
    # Excel-cached (formulas test.xlsx, LOOKUP!AB119): errors last, by ERROR.TYPE number
    errs = "#VALUE!,1,#DIV/0!,#N/A,#NAME?,#REF!,#NULL!,TRUE,#NUM!"
    assert [str(v) for v in arr(f"SORT({{{errs}}},1,1,1)", "D1:L1")[0]] == [
        "1.0", "True", "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"]
    assert arr("UNIQUE(A1:A4)", "D1:D3", data) == [["b"], ["a"], ["c"]]     # [doc]
    assert arr("UNIQUE(A1:A4,,TRUE)", "D1:D2", data) == [["b"], ["c"]]      # [doc] once
    assert arr('UNIQUE({"A";"a";"B"})', "D1:D2") == [["A"], ["B"]]          # case-insensitive
    assert arr("UNIQUE({1,1,2},TRUE)", "D1:E1") == [[1.0, 2.0]]             # by column
    assert ev("UNIQUE({1,1,2,2},TRUE,TRUE)") == VALUE                       # [excel]
    assert arr("SEQUENCE(2,3,3,2)", "D1:F2") == [[3.0, 5.0, 7.0], [9.0, 11.0, 13.0]]  # [doc]
    assert arr("SEQUENCE(3)", "D1:D3") == [[1.0], [2.0], [3.0]]
    assert ev("SEQUENCE(0)") == CALC


def test_take_drop_choose_expand_stack_wrap():
    m = "{1,2,3;4,5,6;7,8,9}"
    assert arr(f"TAKE({m},2)", "A1:C2") == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]   # [doc]
    assert arr(f"TAKE({m},,2)", "A1:B3") == [[1.0, 2.0], [4.0, 5.0], [7.0, 8.0]]
    assert arr(f"TAKE({m},-1,-1)", "A1") == 9.0
    assert ev(f"TAKE({m},0)") == VALUE                                # [excel]
    assert ev(f"TAKE({m},A9)") == VALUE                               # [excel] blank is 0
    assert arr(f"DROP({m},2)", "A1:C1") == [[7.0, 8.0, 9.0]]                    # [doc]
    assert arr(f"DROP({m},-2,1)", "A1:B1") == [[2.0, 3.0]]
    assert ev(f"DROP({m},3)") == VALUE                                # [excel] nothing left
    assert arr(f"CHOOSEROWS({m},3,-3)", "A1:C2") == [[7.0, 8.0, 9.0], [1.0, 2.0, 3.0]]
    assert arr(f"CHOOSECOLS({m},{{3,1}})", "A1:B3") == [[3.0, 1.0], [6.0, 4.0], [9.0, 7.0]]
    assert ev(f"CHOOSECOLS({m},4)") == VALUE
    assert ev(f"CHOOSEROWS({m},0)") == VALUE
    assert arr("EXPAND({1,2;3,4},3,3)", "A1:C3") == [
        [1.0, 2.0, NA], [3.0, 4.0, NA], [NA, NA, NA]]                         # [doc]
    assert arr('EXPAND({1,2;3,4},3,,"-")', "A1:B3") == [[1.0, 2.0], [3.0, 4.0], ["-", "-"]]
    assert ev("EXPAND({1,2;3,4},1)") == VALUE
    assert arr("HSTACK({1;2},{3;4;5})", "A1:B3") == [[1.0, 3.0], [2.0, 4.0], [NA, 5.0]]
    assert arr("VSTACK({1,2},{3})", "A1:B2") == [[1.0, 2.0], [3.0, NA]]        # [doc] #N/A
    assert arr("TOCOL({1,2;3,4})", "A1:A4") == [[1.0], [2.0], [3.0], [4.0]]
    assert arr("TOCOL({1,2;3,4},0,TRUE)", "A1:A4") == [[1.0], [3.0], [2.0], [4.0]]
    assert arr("TOROW(A1:B2,1)", "D1:E1", {"A1": 1, "B2": 2}) == [[1.0, 2.0]]  # skip blanks
    assert arr("TOROW({1,#N/A;3,4},2)", "A1:C1") == [[1.0, 3.0, 4.0]]           # skip errors
    assert arr('WRAPROWS({"A","B","C","D","E","F","G"},3)', "A1:C3") == [
        ["A", "B", "C"], ["D", "E", "F"], ["G", NA, NA]]                         # [doc]
    assert arr("WRAPCOLS({1,2,3,4,5},2,0)", "A1:C2") == [[1.0, 3.0, 5.0], [2.0, 4.0, 0.0]]
    assert ev("WRAPROWS({1,2;3,4},2)") == VALUE
    assert ev("WRAPROWS({1,2,3},0)") == NUM


def test_trimrange_and_hyperlink():
    cells = {"B2": 1, "C4": 2}
    wb = calc({**cells, "F1": "=ROWS(TRIMRANGE(A1:D6))", "F2": "=COLUMNS(TRIMRANGE(A1:D6))",
               "F3": "=ROW(TRIMRANGE(A1:D6,2))", "F4": "=ROWS(TRIMRANGE(A1:D6,1,0))",
               "F5": "=TRIMRANGE(E10:E12)", "F6": "=TRIMRANGE(A1:D6,2.5)"})
    assert [wb[f"Sheet1!F{i}"] for i in range(1, 7)] == [3.0, 2.0, 1.0, 5.0, REF, VALUE]
    assert ev('HYPERLINK("http://example.com","Example")') == "Example"    # [doc]
    assert ev('HYPERLINK("http://example.com")') == "http://example.com"


SALES = {"A1": "Region", "B1": "Product", "C1": "Sales",
         "A2": "East", "B2": "x", "C2": 10, "A3": "West", "B3": "y", "C3": 20,
         "A4": "East", "B4": "y", "C4": 30, "A5": "West", "B5": "x", "C5": 5,
         "A6": "East", "B6": "x", "C6": 1}


def test_groupby_eta_and_lambda():
    # [hand] headers detected ("Sales" then a number), not shown; grand total at the bottom
    assert arr("GROUPBY(A1:A6,C1:C6,SUM)", "E1:F3", SALES) == [
        ["East", 41.0], ["West", 25.0], ["Total", 66.0]]
    assert arr("GROUPBY(A1:A6,C1:C6,LAMBDA(v,MAX(v)))", "E1:F3", SALES) == [
        ["East", 30.0], ["West", 20.0], ["Total", 30.0]]
    # headers shown, no total, sorted by the value descending
    assert arr("GROUPBY(A1:A6,C1:C6,SUM,3,0,-2)", "E1:F3", SALES) == [
        ["Region", "Sales"], ["East", 41.0], ["West", 25.0]]
    # two levels with subtotals; "Grand Total" once subtotals are shown
    assert arr("GROUPBY(A1:B6,C1:C6,SUM,1,2)", "E1:G7", SALES) == [
        ["East", "x", 11.0], ["East", "y", 30.0], ["East", "", 41.0],
        ["West", "x", 5.0], ["West", "y", 20.0], ["West", "", 25.0],
        ["Grand Total", "", 66.0]]
    # PERCENTOF is relative to the grand total; a filter drops rows
    assert arr("GROUPBY(A1:A6,C1:C6,PERCENTOF,1,0,,C1:C6>5)", "E1:F2", SALES) == [
        ["East", 40 / 60], ["West", 20 / 60]]
    assert ev("GROUPBY(A1:A6,C1:C5,SUM)", SALES) == VALUE          # sizes differ
    assert ev("GROUPBY(A1:A6,C1:C6,SUM,,,3)", SALES) == VALUE      # [excel] bad sort column


def test_pivotby():
    assert arr("PIVOTBY(A1:A6,B1:B6,C1:C6,SUM)", "E1:H4", SALES) == [
        ["", "x", "y", "Total"],
        ["East", 11.0, 30.0, 41.0],
        ["West", 5.0, 20.0, 25.0],
        ["Total", 16.0, 50.0, 66.0]]                               # [hand]
    # [hand] no totals; percentages of each column total (relative_to 0)
    assert arr("PIVOTBY(A1:A6,B1:B6,C1:C6,PERCENTOF,,0,,0)", "E1:G3", SALES) == [
        ["", "x", "y"], ["East", 11 / 16, 30 / 50], ["West", 5 / 16, 20 / 50]]
    # [excel] a missing combination is an empty cell
    assert arr("PIVOTBY({2;2;3},{1;2;2},{1;2;3},SUM)", "E1:H4") == [
        ["", 1.0, 2.0, "Total"], [2.0, 1.0, 2.0, 3.0], [3.0, "", 3.0, 3.0],
        ["Total", 1.0, 5.0, 6.0]]
    assert ev("PIVOTBY({2;2;3},{1;2;2},{1;2;3},#N/A)") == NA
    assert ev('GETPIVOTDATA("Sales",A1)', SALES) == REF


def test_exact_lookup_cache_is_built_and_correct():
    n = 200
    cells = {f"A{i}": f"key{i}" for i in range(1, n + 1)}
    cells.update({f"B{i}": float(i * 3) for i in range(1, n + 1)})
    for i in range(1, n + 1):
        cells[f"D{i}"] = f'=VLOOKUP("key"&{n + 1 - i},$A$1:$B${n},2,FALSE)'
        cells[f"E{i}"] = f"=MATCH({i * 3},$B$1:$B${n},0)"
    wb = calc(cells)
    assert [wb[f"Sheet1!D{i}"] for i in (1, 50, n)] == [n * 3.0, (n - 49) * 3.0, 3.0]
    assert [wb[f"Sheet1!E{i}"] for i in (1, 77, n)] == [1.0, 77.0, float(n)]
    cache = wb.engine.__dict__.get("_lookup_cache")
    assert cache and any(isinstance(k, tuple) for k in cache)
    # [hand] a changed constant is seen by the next calculation
    wb.set_value("Sheet1!B1", 999)
    wb.set_value("Sheet1!A2", "key1")
    wb.calculate()
    assert wb["Sheet1!D200"] == 999.0 and wb["Sheet1!E1"] == NA
    assert wb[f"Sheet1!D{n - 1}"] == NA               # key2 was overwritten


def test_lookup_over_cells_computed_later():
    # [hand] the searched column holds formulas that OFFSET hides from the graph: the
    # lookup must wait for them (NeedCell) and never cache a pending range
    cells = {f"A{i}": f"=C{i}*2" for i in range(1, 21)}
    cells.update({f"C{i}": i for i in range(1, 21)})
    cells.update({f"B{i}": f"r{i}" for i in range(1, 21)})
    cells["E1"] = "=VLOOKUP(30,OFFSET(A1,0,0,20,2),2,FALSE)"
    cells["E2"] = "=MATCH(40,OFFSET(A1,0,0,20,1),0)"
    cells["E3"] = "=MATCH(41,OFFSET(A1,0,0,20,1),1)"
    wb = calc(cells)
    assert [wb["Sheet1!E1"], wb["Sheet1!E2"], wb["Sheet1!E3"]] == ["r15", 20.0, 20.0]


def test_functions_are_registered_with_reference_flags():
    from xleval.functions import lookup_function
    for name in ("INDIRECT", "OFFSET"):
        spec = lookup_function(name)
        assert spec.volatile and spec.dynamic_ref
    assert not lookup_function("INDEX").volatile
