"""Conformance with Excel: the corpus of Excel-saved workbooks in ../shared/conformance,
scored by its own score.py through the `xleval calc` command line, exactly as a user would
run it. The match rate must stay at or above the floor in tests/conformance_floor.json,
and no workbook may fail or take more than 60 s."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFORMANCE = ROOT / ".." / "shared" / "conformance"
FLOOR = json.loads((ROOT / "tests" / "conformance_floor.json").read_text())

pytestmark = [
    pytest.mark.skipif(not (CONFORMANCE / "MANIFEST.tsv").is_file(),
                       reason="conformance corpus not present"),
    # one scorer run of the whole corpus (about 3-5 minutes on 2 cores) serves both tests
    pytest.mark.timeout(1800),
]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    out = tmp_path_factory.mktemp("conf") / "results.json"
    engine = f"{sys.executable} -m xleval calc {{in}} -o {{out}} -q"
    proc = subprocess.run(
        [sys.executable, str(CONFORMANCE / "score.py"), "--engine", engine, "--jobs", "2",
         "--timeout", "120", "--json", str(out)],
        cwd=str(ROOT), capture_output=True, text=True, timeout=1500,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text())


def test_match_rate_at_or_above_floor(scored):
    pct = scored["percent"]
    assert pct >= FLOOR["dev_match_pct"], (
        f"conformance {pct:.2f}% of {scored['cells_scored']} cells is below the floor "
        f"{FLOOR['dev_match_pct']}%")


def test_no_workbook_fails_or_is_slow(scored):
    bad = [(r["path"], r["status"], r["reason"][:200], r["engine_seconds"])
           for r in scored["results"]
           if r["status"] != "ok" or (r["engine_seconds"] or 0) > 60]
    assert bad == []
