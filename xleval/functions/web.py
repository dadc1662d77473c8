"""Excel's Web category: ENCODEURL and FILTERXML (WEBSERVICE, a network call, is not
implemented: #NAME? as an unknown function, like Excel for the web and Mac)."""
from __future__ import annotations

import re
from urllib.parse import quote

from lxml import etree

from .. import values as V
from ..values import Array
from .registry import TEXT, xl
from .text import MAX_TEXT

# parsing text from cells: no entities resolved, no DTD loaded, nothing fetched
_PARSER_OPTS = {"resolve_entities": False, "no_network": True, "load_dtd": False,
                "huge_tree": False}
# a plain decimal number, as FILTERXML returns node text that is one (e.g. "12", "-1.5E3")
_NUMBER_RE = re.compile(r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$")


@xl("ENCODEURL", TEXT)
def ENCODEURL(text):
    """Percent-encoding of the UTF-8 bytes of `text`, every character but the unreserved
    ones of RFC 3986 (letters, digits, - . _ ~): Microsoft's example encodes ':' '/' and
    spaces and keeps '.'."""
    out = quote(text, safe="", encoding="utf-8", errors="surrogatepass")
    return V.VALUE if len(out) > MAX_TEXT else out


@xl("FILTERXML", TEXT, TEXT)
def FILTERXML(xml, xpath):
    """The values XPath `xpath` selects in the XML text `xml`: one value, or a column of
    them; node text that is a plain number comes back as a number. #VALUE! for XML that is
    not well-formed, an invalid XPath, or nothing selected."""
    try:
        parser = etree.XMLParser(**_PARSER_OPTS)
        root = etree.fromstring(xml.encode("utf-8", "surrogatepass"), parser)
        got = root.xpath(xpath)
    except (etree.LxmlError, ValueError):
        return V.VALUE
    if isinstance(got, bool):
        return got
    if isinstance(got, float):
        return got if got == got and abs(got) != float("inf") else V.NUM
    if isinstance(got, str):
        got = [got]
    values = [_node_value(x) for x in got]
    if not values:
        return V.VALUE
    if len(values) == 1:
        return values[0]
    return Array([[v] for v in values])


def _node_value(node):
    """An element's text content (its string value), an attribute's or text node's text;
    a plain number as a number."""
    if isinstance(node, etree._Element):
        text = "".join(node.itertext())
    else:
        text = str(node)
    if _NUMBER_RE.match(text):
        return float(text)
    return text if len(text) <= MAX_TEXT else V.VALUE
