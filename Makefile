# xleval: `make run` and `make test` work on a machine with only Python 3 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.PHONY: install run test test-all bench bench-peers conformance fixtures clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# An editable install has no byte-code, and PYTHONDONTWRITEBYTECODE=1 environments never
# write it: every run would compile the package again (~0.15 s). A wheel install compiles it.
install: $(STAMP)
	@$(BIN)/python -m compileall -q xleval > /dev/null

# Recalculate the bundled quarterly model and print the run summary.
run: install
	@mkdir -p out
	$(BIN)/xleval calc fixtures/workbooks/quarterly_model.xlsx -o out/quarterly_model.xlsx

test: install
	$(BIN)/python -m pytest

# Everything, including the slow benchmark-style tests.
test-all: install
	$(BIN)/python -m pytest -m "slow or not slow"

bench: install
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,plot]'
	$(BIN)/python benchmarks/run.py

# xleval side by side with IronCalc, formualizer and formulas (whole process, same values);
# writes its section of benchmarks/RESULTS.md. Extra options: make bench-peers PEERS_ARGS='--rows 10000,100000'
bench-peers: install
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	$(BIN)/python benchmarks/peers.py $(PEERS_ARGS)

# Full conformance score with the corpus's own scorer (needs ../shared/conformance).
conformance: install
	mkdir -p out
	$(BIN)/python ../shared/conformance/score.py --engine '$(abspath $(BIN))/xleval calc {in} -o {out} -q' --jobs 2 --json out/conformance.json

# Regenerate fixtures/workbooks (expected values come from LibreOffice, see the script).
fixtures: install
	$(BIN)/python fixtures/make_fixtures.py

clean:
	rm -rf $(VENV) out .pytest_cache
