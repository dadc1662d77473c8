"""functions/index.py (which category registers each native function) is current, and a
lookup imports only the category it needs."""
import json
import subprocess
import sys

from xleval.functions import CATEGORIES, category_index
from xleval.functions.index import CATEGORY_OF


def _fresh(code: str) -> object:
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return json.loads(got.stdout)


def test_the_index_is_current():
    # regenerate with: python -m xleval.functions --write-index
    assert CATEGORY_OF == category_index()


def test_the_index_covers_every_native_function():
    names = _fresh("import json; from xleval.functions import load_all, REGISTRY; "
                   "load_all(); print(json.dumps(sorted(REGISTRY)))")
    assert sorted(CATEGORY_OF) == names
    assert set(CATEGORY_OF.values()) <= set(CATEGORIES)


def test_a_lookup_imports_only_its_category():
    got = _fresh(
        "import json, sys; from xleval.functions import lookup_function; "
        "names = [lookup_function(n).name for n in ('MAX', 'VLOOKUP', 'MAX')]; "
        "print(json.dumps([names, sorted(m.rsplit('.', 1)[1] for m in sys.modules "
        "if m.startswith('xleval.functions.') and m.rsplit('.', 1)[1] in "
        f"{list(CATEGORIES)!r})]))")
    names, loaded = got
    assert names == ["MAX", "VLOOKUP", "MAX"]
    assert "statistical" in loaded and "lookup" in loaded
    assert "financial" not in loaded and "engineering" not in loaded


def test_a_name_outside_the_index_loads_every_category():
    loaded = _fresh(
        "import json, sys; from xleval.functions import lookup_function; "
        "lookup_function('NOT.A.FUNCTION'); "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('xleval.functions.'))))")
    assert {f"xleval.functions.{c}" for c in CATEGORIES} <= set(loaded)
