"""Web functions. Expected values: Microsoft's ENCODEURL support page [doc], RFC 3986's
unreserved characters [spec], the XPath string value of the selected nodes [spec], or hand
derivation [hand]."""
import pytest

import xleval
from xleval.values import XLError

VALUE = XLError("#VALUE!")
SPLIT = '"<t><s>"&SUBSTITUTE("alpha 12 gamma"," ","</s><s>")&"</s></t>"'


def book(cells):
    wb = xleval.Workbook.from_dict({"S": cells})
    wb.calculate()
    return wb


@pytest.mark.parametrize("formula, want", [
    ('=ENCODEURL("http://contoso.sharepoint.com/Finance/Profit and Loss Statement.xlsx")',
     "http%3A%2F%2Fcontoso.sharepoint.com%2FFinance%2FProfit%20and%20Loss%20Statement.xlsx"),  # [doc]
    ('=ENCODEURL("a~b_c.d-e")', "a~b_c.d-e"),                       # [spec] unreserved
    ('=ENCODEURL("é&=?")', "%C3%A9%26%3D%3F"),                     # [spec] UTF-8 bytes
    ("=ENCODEURL(12.5)", "12.5"),                                   # [hand] text of a number
    (f"=FILTERXML({SPLIT},\"//s[3]\")", "gamma"),                   # [spec] a split idiom
    (f"=FILTERXML({SPLIT},\"//s[2]\")", 12.0),                      # [hand] plain number
    (f"=COUNTA(FILTERXML({SPLIT},\"//s\"))", 3.0),                  # [spec] a column of 3
    (f"=SUM(FILTERXML({SPLIT},\"//s\"))", 12.0),                    # [hand] texts not summed
    ('=FILTERXML("<t><s x=""7"">a<b>c</b></s></t>","//s")', "ac"),  # [spec] string value
    ('=FILTERXML("<t><s x=""7"">a</s></t>","//s/@x")', 7.0),        # [spec] an attribute
    ('=FILTERXML("<t><s/><s/></t>","count(//s)")', 2.0),            # [spec] a number
    ('=FILTERXML("<t><s>1</s></t>","//q")', VALUE),                 # [hand] nothing selected
    ('=FILTERXML("<t><s>1</s>","//s")', VALUE),                     # [hand] not well-formed
    ('=FILTERXML("<t/>","//[")', VALUE),                            # [hand] bad XPath
])
def test_web(formula, want):
    assert xleval.evaluate(formula) == want


def test_filterxml_does_not_resolve_external_entities(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    xml = f'<!DOCTYPE t [<!ENTITY e SYSTEM "file://{secret}">]><t>&e;</t>'
    got = book({"A1": xml, "B1": '=FILTERXML(A1,"//t")'})["S!B1"]
    assert "do not read" not in str(got)


def test_filterxml_gives_a_column():
    # entered as an array formula over B1:B3: the two values, then #N/A past them [spec]
    from .helpers import NA, block
    got = block('=FILTERXML(A1,"//s")', "B1:B3", A1="<t><s>1</s><s>x</s></t>")
    assert got == [[1.0], ["x"], [NA]]
