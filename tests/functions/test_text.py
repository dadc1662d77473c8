"""Text functions. Expected values come from the examples on each function's Microsoft
support page ("LEFT, LEFTB functions", "SUBSTITUTE function", "TEXTSPLIT function", ...),
cited as [doc], or are derived by hand from the documented rules, cited as [hand]."""
import pytest

import xleval
from xleval.functions.registry import Context
from xleval.parser.parser import parse
from xleval.values import Array, XLError

VALUE = XLError("#VALUE!")
NA = XLError("#N/A")
DIV0 = XLError("#DIV/0!")


def ev(formula, **cells):
    return xleval.evaluate(formula, cells)


def raw(formula, **cells):
    """The formula's unreduced result (arrays stay arrays), evaluated at A1 in array mode."""
    wb = xleval.Workbook.from_dict({"Sheet1": dict(cells)})
    wb.calculate()
    eng = wb.engine
    fn, _ = eng.compiler.compile(parse(formula.lstrip("="), (1, 1)), 0, True)
    return fn(Context(eng, 0, 1, 1, True))


# --- LEFT / RIGHT / MID / LEN ---------------------------------------------------------
@pytest.mark.parametrize("formula,expected", [
    ('=LEFT("Sale Price",4)', "Sale"),           # [doc]
    ('=LEFT("Sweden")', "S"),                    # [doc] default one character
    ('=LEFT("abc",0)', ""),
    ('=LEFT("abc",10)', "abc"),
    ('=LEFT("abc",-1)', VALUE),                  # [doc] num_chars < 0
    ("=LEFT(12345.6,3)", "123"),                 # numbers as displayed
    ("=LEFT(TRUE,2)", "TR"),
    ('=LEFT("abc",2.9)', "ab"),                  # truncated
    ('=RIGHT("Sale Price",5)', "Price"),         # [doc]
    ('=RIGHT("Stock Number")', "r"),             # [doc]
    ('=RIGHT("abc",0)', ""),
    ('=RIGHT("abc",-1)', VALUE),
    ('=MID("Fluid Flow",1,5)', "Fluid"),         # [doc]
    ('=MID("Fluid Flow",7,20)', "Flow"),         # [doc]
    ('=MID("Fluid Flow",20,5)', ""),             # [doc] start past the end
    ('=MID("abc",0,1)', VALUE),                  # [doc] start_num < 1
    ('=MID("abc",1,-1)', VALUE),
    ('=LEN("Phoenix, AZ")', 11.0),               # [doc]
    ('=LEN("")', 0.0),
    ('=LEN("     One   ")', 11.0),               # [doc]
    ("=LEN(12.5)", 4.0),
    ("=LEN(A1)", 0.0),                           # blank
    ("=LEN(1/0)", DIV0),
    ('=LENB("abc")', 3.0),
    ('=LEFTB("abc",2)', "ab"),
    ('=MIDB("abcdef",2,3)', "bcd"),
    ('=RIGHTB("abc",1)', "c"),
])
def test_left_right_mid_len(formula, expected):
    assert ev(formula) == expected


def test_utf16_lengths():
    # Excel counts UTF-16 code units: a character outside the BMP is two
    assert ev("=LEN(UNICHAR(128512))") == 2.0
    assert ev('=LEN("é")') == 1.0
    assert ev('=LEN(A1)', A1="a\U0001F600b") == 4.0
    assert ev('=RIGHT(A1,1)', A1="a\U0001F600b") == "b"
    assert ev('=FIND("b",A1)', A1="a\U0001F600b") == 4.0


# --- FIND / SEARCH ----------------------------------------------------------------------
@pytest.mark.parametrize("formula,expected", [
    ('=FIND("M","Miriam McGovern")', 1.0),       # [doc]
    ('=FIND("m","Miriam McGovern")', 6.0),       # [doc] case-sensitive
    ('=FIND("M","Miriam McGovern",3)', 8.0),     # [doc]
    ('=FIND("z","abc")', VALUE),
    ('=FIND("a","abc",0)', VALUE),               # [doc] start_num <= 0
    ('=FIND("a","abc",5)', VALUE),               # [doc] start_num > length
    ('=FIND("","abc")', 1.0),                    # [doc] empty find_text matches at start
    ('=FIND("","abc",2)', 2.0),
    ('=FINDB("c","abc")', 3.0),
    ('=SEARCH("e","Statements",6)', 7.0),        # [doc]
    ('=SEARCH("margin","Profit Margin")', 8.0),  # [doc] case-insensitive
    ('=SEARCH("p?o","Profit")', 1.0),            # ? any one character
    ('=SEARCH("f*t","Profit")', 4.0),            # * any run
    ('=SEARCH("~*","a*b")', 2.0),                # ~ escapes
    ('=SEARCH("x","abc")', VALUE),
    ('=SEARCHB("B","abc")', 2.0),
])
def test_find_search(formula, expected):
    assert ev(formula) == expected


# --- REPLACE / SUBSTITUTE ---------------------------------------------------------------
@pytest.mark.parametrize("formula,expected", [
    ('=REPLACE("abcdefghijk",6,5,"*")', "abcde*k"),      # [doc]
    ('=REPLACE("2009",3,2,"10")', "2010"),               # [doc]
    ('=REPLACE("123456",1,3,"@")', "@456"),              # [doc]
    ('=REPLACE("abc",10,1,"x")', "abcx"),
    ('=REPLACE("abc",0,1,"x")', VALUE),
    ('=REPLACEB("abc",2,1,"X")', "aXc"),
    ('=SUBSTITUTE("Sales Data","Sales","Cost")', "Cost Data"),           # [doc]
    ('=SUBSTITUTE("Quarter 1, 2008","1","2",1)', "Quarter 2, 2008"),     # [doc]
    ('=SUBSTITUTE("Quarter 1, 2011","1","2",3)', "Quarter 1, 2012"),     # [doc]
    ('=SUBSTITUTE("aaa","a","b")', "bbb"),
    ('=SUBSTITUTE("aaa","a","b",4)', "aaa"),             # no 4th instance
    ('=SUBSTITUTE("aaa","a","b",0)', VALUE),
    ('=SUBSTITUTE("abc","","x")', "abc"),
    ('=SUBSTITUTE("ABC","b","x")', "ABC"),               # case-sensitive
])
def test_replace_substitute(formula, expected):
    assert ev(formula) == expected


# --- cleaning and case ------------------------------------------------------------------
@pytest.mark.parametrize("formula,expected", [
    ('=TRIM(" First Quarter   Earnings ")', "First Quarter Earnings"),   # [doc]
    ('=TRIM(CHAR(160)&"a")', "\u00a0a"),                 # only ASCII spaces are removed
    ('=CLEAN(CHAR(9)&"Monthly report"&CHAR(10))', "Monthly report"),   # [doc]
    ('=CLEAN(CHAR(127))', "\x7f"),                       # [doc] 127 is not removed
    ('=UPPER("total")', "TOTAL"),                        # [doc]
    ('=LOWER("E. E. Cummings")', "e. e. cummings"),      # [doc]
    ('=UPPER("straße")', "STRAßE"),                      # [hand] length kept
    ('=PROPER("this is a TITLE")', "This Is A Title"),   # [doc]
    ('=PROPER("2-way street")', "2-Way Street"),         # [doc]
    ('=PROPER("76BudGet")', "76Budget"),                 # [doc]
    ('=PROPER("it\'s")', "It'S"),                        # [hand] after an apostrophe
    ("=UPPER(TRUE)", "TRUE"),
])
def test_case_and_cleaning(formula, expected):
    assert ev(formula) == expected


# --- joining --------------------------------------------------------------------------
def test_concatenate_and_concat():
    assert ev('=CONCATENATE("Stream population for ","brook trout"," is ",32,"/mile")') == \
        "Stream population for brook trout is 32/mile"               # [doc]
    assert ev('=CONCATENATE("a",1.5,TRUE,A1)') == "a1.5TRUE"       # blank is ""
    assert ev('=CONCATENATE("a",1/0)') == DIV0
    cells = {"A1": "a", "A2": "b", "B1": 1, "B2": None}
    assert ev("=CONCAT(A1:B2)", **cells) == "a1b"                 # row by row, blank skipped
    assert ev('=CONCAT("x",{1,2;3,4})') == "x1234"
    assert ev('=CONCAT(A1:A2,"-")', A1=1, A2=DIV0) == DIV0
    assert ev('=REPT("ab",16384)') == VALUE                        # 32768 characters
    assert ev('=LEN(REPT("a",32767))') == 32767.0


def test_textjoin():
    # [doc] TEXTJOIN(", ", TRUE, "The", "sun", "will", "come", "up", "tomorrow.")
    assert ev('=TEXTJOIN(" ",TRUE,"The","sun","will","come","up","tomorrow.")') == \
        "The sun will come up tomorrow."
    cells = {"A1": "a", "A2": None, "A3": "c"}
    assert ev('=TEXTJOIN(",",TRUE,A1:A3)', **cells) == "a,c"
    assert ev('=TEXTJOIN(",",FALSE,A1:A3)', **cells) == "a,,c"
    assert ev('=TEXTJOIN({"-","+"},TRUE,1,2,3,4)') == "1-2+3-4"    # delimiters cycle
    assert ev('=TEXTJOIN("",TRUE,"a",1/0)') == DIV0


def test_rept_exact():
    assert ev('=REPT("*-",3)') == "*-*-*-"                # [doc]
    assert ev('=REPT("a",0)') == ""
    assert ev('=REPT("a",-1)') == VALUE
    assert ev('=EXACT("word","word")') is True            # [doc]
    assert ev('=EXACT("Word","word")') is False           # [doc]
    assert ev('=EXACT(1,"1")') is True


# --- character codes --------------------------------------------------------------------
@pytest.mark.parametrize("formula,expected", [
    ("=CHAR(65)", "A"),                  # [doc]
    ("=CHAR(33)", "!"),                  # [doc]
    ("=CHAR(128)", "€"),                 # Windows-1252
    ("=CHAR(150)", "–"),
    ("=CHAR(233)", "é"),
    ("=CHAR(0)", VALUE),
    ("=CHAR(256)", VALUE),
    ('=CODE("A")', 65.0),                # [doc]
    ('=CODE("!")', 33.0),                # [doc]
    ('=CODE("€uro")', 128.0),
    ('=CODE("")', VALUE),
    ('=CODE("あ")', 63.0),               # [hand] not in the code page: "?"
    ("=UNICHAR(66)", "B"),               # [doc]
    ("=UNICHAR(32)", " "),               # [doc]
    ("=UNICHAR(0)", VALUE),              # [doc]
    ("=UNICHAR(1114112)", VALUE),
    ("=UNICHAR(55296)", NA),             # a lone surrogate half
    ('=UNICODE("B")', 66.0),             # [doc]
    ('=UNICODE(" ")', 32.0),             # [doc]
    ("=UNICODE(UNICHAR(128512))", 128512.0),
    ('=UNICODE("")', VALUE),
])
def test_char_code(formula, expected):
    assert ev(formula) == expected


# --- conversions ----------------------------------------------------------------------
@pytest.mark.parametrize("formula,expected", [
    ('=VALUE("$1,000")', 1000.0),                        # [doc]
    ('=VALUE("16:48:00")-VALUE("12:00:00")', 0.2),       # [doc]
    ('=VALUE(" 12 ")', 12.0),
    ('=VALUE("50%")', 0.5),
    ('=VALUE("abc")', VALUE),
    ('=VALUE("")', VALUE),
    ("=VALUE(TRUE)", VALUE),
    ("=VALUE(A1)", 0.0),
    ("=VALUE(7)", 7.0),
    ('=NUMBERVALUE("2.500,27",",",".")', 2500.27),       # [doc]
    ('=NUMBERVALUE("3.5%")', 0.035),                     # [doc]
    ('=NUMBERVALUE(" 3 000 ")', 3000.0),                 # [doc] spaces ignored
    ('=NUMBERVALUE("9%%")', 0.0009),                     # [doc] percents add up
    ('=NUMBERVALUE("")', 0.0),                           # [doc]
    ('=NUMBERVALUE("1.2.3")', VALUE),                    # [doc] two decimal separators
    ('=NUMBERVALUE("1.000,5",".",",")', VALUE),          # [doc] group after decimal
    ('=NUMBERVALUE("abc")', VALUE),
    ('=T("Rainfall")', "Rainfall"),                      # [doc]
    ("=T(19)", ""),                                      # [doc]
    ("=T(TRUE)", ""),                                    # [doc]
    ("=T(1/0)", DIV0),
    ('=ASC("abc")', "abc"),
    ('=JIS("abc")', "abc"),
])
def test_conversions(formula, expected):
    result = ev(formula)
    if isinstance(expected, float):
        assert result == pytest.approx(expected)
    else:
        assert result == expected


# --- TEXT / FIXED / DOLLAR ---------------------------------------------------------------
@pytest.mark.parametrize("formula,expected", [
    ('=TEXT(1234.567,"$#,##0.00")', "$1,234.57"),        # [doc]
    ('=TEXT(0.285,"0.0%")', "28.5%"),                    # [doc]
    ('=TEXT(4.34,"# ?/?")', "4 1/3"),                    # [doc]
    ('=TEXT(1234567898,"[<=9999999]###-####;(###) ###-####")', "(123) 456-7898"),  # [doc]
    ('=TEXT(12200000,"0.00E+00")', "1.22E+07"),          # [doc]
    ('=TEXT(1234,"0000000")', "0001234"),                # [doc]
    ('=TEXT(DATE(2024,3,14),"dddd")', "Thursday"),
    ('=TEXT("1234","#,##0")', "1,234"),                  # numeric text is a number
    ('=TEXT("abc","0.0")', "abc"),
    ('=TEXT(-1,"yyyy")', VALUE),
    ('=TEXT(1/0,"0")', DIV0),
    ('=TEXT(A1,"0.0")', "0.0"),                          # blank is zero
    ('=TEXT(5,0)', "5"),
    ('=FIXED(1234.567,1)', "1,234.6"),                   # [doc]
    ('=FIXED(1234.567,-1)', "1,230"),                    # [doc]
    ('=FIXED(-1234.567,-1,TRUE)', "-1230"),              # [doc]
    ('=FIXED(44.332)', "44.33"),                         # [doc]
    ('=FIXED(1,128)', VALUE),
    ('=FIXED(-0.001,2)', "0.00"),                        # [hand] rounded to zero
    ('=DOLLAR(1234.567,2)', "$1,234.57"),                # [doc]
    ('=DOLLAR(1234.567,-2)', "$1,200"),                  # [doc]
    ('=DOLLAR(-1234.567,-2)', "($1,200)"),               # [doc]
    ('=DOLLAR(-0.123,4)', "($0.1230)"),                  # [doc]
    ('=DOLLAR(99.888)', "$99.89"),                       # [doc]
])
def test_text_fixed_dollar(formula, expected):
    assert ev(formula) == expected


# --- TEXTBEFORE / TEXTAFTER / TEXTSPLIT --------------------------------------------------
S = "Little Red Riding Hood's red hood"
S2 = "Little red riding hood's red hood"


@pytest.mark.parametrize("formula,expected", [
    ('=TEXTBEFORE(A1,"Red")', "Little "),                         # [doc]
    ('=TEXTBEFORE(A1,"basket")', NA),                             # [doc]
    ('=TEXTBEFORE(A2,"red",2)', "Little red riding hood's "),     # [doc]
    ('=TEXTBEFORE(A2,"red",-2)', "Little "),                      # [doc]
    ('=TEXTBEFORE(A2,"Red",,FALSE)', NA),                         # [doc] case-sensitive
    ('=TEXTBEFORE(A1,"red",2)', NA),                              # only one lower-case "red"
    ('=TEXTBEFORE(A1,"red",2,1)', "Little Red Riding Hood's "),   # case-insensitive
    ('=TEXTBEFORE(A1,"x",,,,"none")', "none"),
    ('=TEXTBEFORE(A1,"x",,,1)', S),                               # end acts as delimiter
    ('=TEXTBEFORE(A1,"red",0)', VALUE),
    ('=TEXTBEFORE(A1,"red",B1)', VALUE),                          # a blank cell is 0
    ('=TEXTAFTER(A1,"Red")', " Riding Hood's red hood"),          # [doc]
    ('=TEXTAFTER(A1,"basket")', NA),                              # [doc]
    ('=TEXTAFTER(A2,"red",2)', " hood"),                          # [doc]
    ('=TEXTAFTER(A2,"red",-2)', " riding hood's red hood"),       # [doc]
    ('=TEXTAFTER(A2,"Red",,FALSE)', NA),                          # [doc]
    ('=TEXTAFTER(A2,"red",3)', NA),                               # [doc]
    ('=TEXTAFTER(A1,"x",-1,,1)', S),                              # start acts as delimiter
    ('=TEXTAFTER(A1,{"Hood","Riding"})', " Hood's red hood"),     # several delimiters
    ('=TEXTAFTER("a-b","")', "a-b"),
    ('=TEXTBEFORE("a-b","")', ""),
])
def test_textbefore_textafter(formula, expected):
    assert ev(formula, A1=S, A2=S2) == expected


def test_textsplit():
    # [doc] =TEXTSPLIT(A2," ") with "Dakota Lennon Sanchez"
    assert raw('=TEXTSPLIT("Dakota Lennon Sanchez"," ")') == \
        Array([["Dakota", "Lennon", "Sanchez"]])
    # [doc] =TEXTSPLIT(A2,{",","."},";") -> rows by ";", columns by "," or "."
    assert raw('=TEXTSPLIT("Do. Or do not. There is no try. -Anonymous",,".")') == \
        Array([["Do"], [" Or do not"], [" There is no try"], [" -Anonymous"]])
    assert raw('=TEXTSPLIT("1,2,3;4,5",",",";")') == \
        Array([["1", "2", "3"], ["4", "5", NA]])                      # padded with #N/A
    assert raw('=TEXTSPLIT("1,2,3;4,5",",",";",,,"")') == \
        Array([["1", "2", "3"], ["4", "5", ""]])
    assert raw('=TEXTSPLIT("a,,b",",")') == Array([["a", "", "b"]])
    assert raw('=TEXTSPLIT("a,,b",",",,TRUE)') == Array([["a", "b"]])
    assert raw('=TEXTSPLIT("aXbxc","x",,,1)') == Array([["a", "b", "c"]])
    assert raw('=TEXTSPLIT("abc","")') == VALUE
    assert ev('=TEXTSPLIT("a b"," ")') == "a"                         # top-left in a cell


# --- ARRAYTOTEXT / VALUETOTEXT ------------------------------------------------------------
def test_arraytotext_valuetotext():
    cells = {"A1": "TRUE", "B1": "#VALUE!", "A2": 1234.01234, "B2": "Seattle",
             "A3": "Hello", "B3": "$1,123.00"}
    # [doc] ARRAYTOTEXT(A2:B4,0) / (A2:B4,1) with that table
    assert ev("=ARRAYTOTEXT(A1:B3)", **cells) == \
        "TRUE, #VALUE!, 1234.01234, Seattle, Hello, $1,123.00"
    assert ev("=ARRAYTOTEXT(A1:B3,1)", **cells) == \
        '{"TRUE",#VALUE!;1234.01234,"Seattle";"Hello","$1,123.00"}'
    assert ev("=ARRAYTOTEXT({1,2;3,4},1)") == "{1,2;3,4}"
    assert ev("=ARRAYTOTEXT({1,2},2)") == VALUE
    assert ev("=ARRAYTOTEXT(1/0)") == "#DIV/0!"
    assert ev('=VALUETOTEXT("Hello")') == "Hello"                 # [doc]
    assert ev('=VALUETOTEXT("Hello",1)') == '"Hello"'             # [doc]
    assert ev("=VALUETOTEXT(TRUE,1)") == "TRUE"
    assert ev("=VALUETOTEXT(NA())") == "#N/A"
    assert ev("=VALUETOTEXT(1,3)") == VALUE


# --- regular expressions ---------------------------------------------------------------
def test_regex():
    assert ev('=REGEXTEST("alpha","[a-z]+")') is True
    assert ev('=REGEXTEST("ALPHA","[a-z]+")') is False            # case-sensitive default
    assert ev('=REGEXTEST("ALPHA","[a-z]+",1)') is True
    assert ev('=REGEXTEST("a","(")') == VALUE                      # bad pattern
    # [doc] REGEXEXTRACT examples
    assert ev('=REGEXEXTRACT("Sonia Rees (378) 555-4195","[0-9()]+ [0-9-]+")') == \
        "(378) 555-4195"
    assert raw('=REGEXEXTRACT("10 apples, 12 oranges","[0-9]+",1)') == Array([["10", "12"]])
    assert raw('=REGEXEXTRACT("O my Luve red rose","O my (\\w+) red (\\w+)",2)') == \
        Array([["Luve", "rose"]])
    assert ev('=REGEXEXTRACT("abc","x")') == NA
    # [doc] REGEXREPLACE: swap "first last" with $2, $1
    assert ev('=REGEXREPLACE("Sonia Brown","([A-Z][a-z]+) ([A-Z][a-z]+)","$2, $1")') == \
        "Brown, Sonia"
    assert ev('=REGEXREPLACE("a1b2c3","[0-9]","#")') == "a#b#c#"
    assert ev('=REGEXREPLACE("a1b2c3","[0-9]","#",2)') == "a1b#c3"
    assert ev('=REGEXREPLACE("a1b2c3","[0-9]","#",-1)') == "a1b2c#"
    assert ev('=REGEXREPLACE("AbA","a","x",0,1)') == "xbx"
    assert ev('=REGEXREPLACE("ab","(?<first>a)","[${first}]")') == "[a]b"


def test_bahttext():
    # [doc] BAHTTEXT(1234) -> one thousand two hundred thirty-four baht
    assert ev("=BAHTTEXT(1234)") == "หนึ่งพันสองร้อยสามสิบสี่บาทถ้วน"
    assert ev("=BAHTTEXT(0)") == "ศูนย์บาทถ้วน"
    assert ev("=BAHTTEXT(21.25)") == "ยี่สิบเอ็ดบาทยี่สิบห้าสตางค์"   # [hand] 21 = yi-sip-et
    assert ev("=BAHTTEXT(11)") == "สิบเอ็ดบาทถ้วน"


def test_phonetic():
    assert ev("=PHONETIC(A1)", A1="abc") == "abc"


def test_broadcasting_over_arrays():
    assert raw('=LEFT({"abc","de"},1)') == Array([["a", "d"]])
    assert raw('=LEN(A1:A2)', A1="ab", A2="abc") == Array([[2.0], [3.0]])


def test_corpus_derived_rules():
    # rules read from results saved by Excel in the conformance corpus (no files copied)
    assert ev('=NUMBERVALUE("(2.500,27)",",",".")') == -2500.27        # parentheses: minus
    assert ev('=NUMBERVALUE("(2500.27)",".",".,")') == VALUE           # same separators
    assert ev('=SUBSTITUTE("aaa","a","b",A1)', A1=True) == VALUE       # logical instance
    assert ev('=TEXT(1234.5,"@")') == "1234.5"                        # number via @
    assert ev('=REGEXEXTRACT("abc","b",2)') == VALUE                   # no groups
    assert raw('=REGEXEXTRACT("1a2b3c","((\\d)[bc]+|(3c))",2)') == Array([["2b", "2", NA]])
    assert ev("=T(A1:A2)", A1="x", A2=1) == "x"                       # first cell
    assert ev('=FIXED(10001,"36","FALSe")') == "10,001." + "0" * 36
    assert raw('=TEXTAFTER("a-b-c","-",{1,2})') == Array([["b-c", "c"]])   # element-wise
