"""The tokenizer's two patterns: the ASCII one (compiled at import, cheap) must match ASCII
text exactly as the full pattern (names may hold U+00A0..U+FFFF; compiled on first use,
~50-70 ms) does, and importing the tokenizer must not compile the full one.
Expected tokens are written by hand from the grammar in the module docstring."""
import random
import subprocess
import sys

import pytest

from xleval.parser import tokenizer as T
from xleval.parser.tokenizer import FormulaSyntaxError, tokenize

_FRAGMENTS = ["A1", "$B$2", "xfd1048576", "C:C", "3:5", "Sheet1!", "'My Sheet'!", "'it''s'!",
              "[1]", "[1]Data!", "SUM(", "_xlfn.", "_xlws.", "_XLFN.", "TRUE", "false",
              "#N/A", "#ref!", "#DIV/0!", "#spill!", "1.5e3", ".5", "7", '"txt"', '""', " ",
              "\t", "+", "-", "<>", "<=", ":", ",", ";", "(", ")", "{", "}", "Table1[",
              "[#This Row]", "[Col]", "]", "k", "s", "K", "S", "i", "abc", "x.y", "\\", "?",
              "R1C1", "@", "%", "!", "#", "_", "a_b", "LOG10(", "A1B", "AB12C", "'"]


def _same_match(a, b):
    if a is None or b is None:
        return a is b
    return (a.lastgroup, a.end()) == (b.lastgroup, b.end())


def test_ascii_pattern_matches_like_the_full_one_on_ascii_text():
    ascii_re = T.token_regex("A1")
    full_re = T.token_regex("\u00e9")
    assert ascii_re is not full_re
    rnd = random.Random(7)
    for _ in range(3000):
        text = "".join(rnd.choice(_FRAGMENTS) for _ in range(rnd.randint(1, 8)))
        assert text.isascii()
        for pos in range(len(text)):
            assert _same_match(ascii_re.match(text, pos), full_re.match(text, pos)), (text, pos)


def test_patterns_agree_on_every_short_ascii_string():
    # every string of one or two ASCII characters (tab to "~"), at each position
    ascii_re, full_re = T.token_regex("A1"), T.token_regex("\u00e9")
    chars = ["\t", "\n"] + [chr(i) for i in range(32, 127)]
    for text in chars + [a + b for a in chars for b in chars]:
        for pos in range(len(text)):
            assert _same_match(ascii_re.match(text, pos), full_re.match(text, pos)), (text, pos)


@pytest.mark.parametrize("text,expected", [
    # [hand] case-insensitive parts of the grammar, on ASCII text
    ("true+False", [("bool", "true"), ("op", "+"), ("bool", "False")]),
    ("#n/a&#value!", [("err", "#n/a"), ("op", "&"), ("err", "#value!")]),
    ("#ref!+1", [("ref", "#ref!"), ("op", "+"), ("num", "1")]),    # #REF! is a reference
    ("_xlfn.concat(a1:b2)", [("func", "_xlfn.concat("), ("ref", "a1:b2"), ("op", ")")]),
    ("Sheet1!$a$1 k", [("ref", "Sheet1!$a$1"), ("isect", " "), ("name", "k")]),
    # [hand] non-ASCII text takes the full pattern
    ("Größe*2", [("name", "Größe"), ("op", "*"), ("num", "2")]),
    ("Übersicht!A1+数量", [("ref", "Übersicht!A1"), ("op", "+"), ("name", "数量")]),
    ("SUMME(Ä1)", [("func", "SUMME("), ("name", "Ä1"), ("op", ")")]),
    ('"héllo"&B2', [("str", '"héllo"'), ("op", "&"), ("ref", "B2")]),
])
def test_tokens(text, expected):
    assert tokenize(text) == expected


def test_bad_character_is_a_one_line_error_in_both_patterns():
    with pytest.raises(FormulaSyntaxError, match="unexpected character '~' at 3"):
        tokenize("1+~")
    with pytest.raises(FormulaSyntaxError, match="unexpected character"):
        tokenize("é+~")


def test_importing_does_not_compile_the_full_pattern():
    # a fresh interpreter: the module-level state right after import
    code = ("import xleval.parser.tokenizer as T; assert T._FULL_RE is None; "
            "T.tokenize('SUM(A1:B2)*2'); assert T._FULL_RE is None; "
            "T.tokenize('Größe+1'); assert T._FULL_RE is not None; "
            "assert T.token_regex('é') is T._FULL_RE")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
