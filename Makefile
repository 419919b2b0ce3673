# Two entry points: `make demo` and `make test`; each creates .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The example quarters in examples/ were written by bench/gen_data.py (see docs/tutorial.md).
DEMO := out/demo

demo: $(VENV)/.installed
	$(BIN)/kpidsl check --strict frameworks/
	$(BIN)/kpidsl fmt --check frameworks/
	$(BIN)/kpidsl run frameworks/central/central.kpi --data examples/quarter-2025-Q3 --period 2025-Q3 \
		--out $(DEMO)/central --format csv,parquet,xlsx
	$(BIN)/kpidsl sheets $(DEMO)/central --unit u2
	$(BIN)/kpidsl run frameworks/units/administration.kpi --data examples/quarter-2025-Q4 --period 2025-Q4 \
		--out $(DEMO)/administration
	$(BIN)/kpidsl run frameworks/central/central.kpi --data examples/quarter-2025-Q3 --period 2025-Q3 \
		--out $(DEMO)/central-en --lang en --quiet
	$(BIN)/kpidsl template frameworks/central/central.kpi --out $(DEMO)/templates
	$(BIN)/kpidsl explain $(DEMO)/central --id p19
	@echo
	@echo "Central frame, 2025-Q3:         $(DEMO)/central (tables, results.xlsx, manifest.json, evidence/)"
	@echo "  Report (Vietnamese):           $(DEMO)/central/report.html"
	@echo "  Appraisal sheets of unit u2:   $(DEMO)/central/sheets/u2.pdf and u2.html"
	@echo "  Report (English):              $(DEMO)/central-en/report.html"
	@echo "Administration office, 2025-Q4: $(DEMO)/administration/report.html"
	@echo "Data templates to fill:         $(DEMO)/templates/"
	@echo "Explain any result:             $(BIN)/kpidsl explain $(DEMO)/central --id u2"
	@echo "Sheets of every unit:           $(BIN)/kpidsl sheets $(DEMO)/central"

# Lint and type-check first (ruff and mypy, configured in pyproject.toml), then the unit tests, then the frameworks' own
# `test` blocks; any failure fails the target.
test: $(VENV)/.installed
	$(BIN)/ruff check kpidsl tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -n auto
	$(BIN)/kpidsl test frameworks/

clean:
	rm -rf $(VENV) build dist *.egg-info
