"""`python -m xleval.functions --write-index`: regenerate functions/index.py."""
import os
import sys

from . import _write_index

if sys.argv[1:] != ["--write-index"]:
    sys.exit("usage: python -m xleval.functions --write-index")
_write_index(os.path.join(os.path.dirname(os.path.abspath(__file__)), "index.py"))
