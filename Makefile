# The two set-up commands of the README: `make demo` and `make test`.
# Both install what they need (Debian packages when root, a virtualenv, the
# package with its extras) and are safe to run again.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint unit integration system-deps venv clean

system-deps:
	@scripts/install-system-deps.sh

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,load,docker,kind]'
	@touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: system-deps venv lint
	$(VENV)/bin/pytest

# Until the scenarios exist, the demo proves the platform: doctor, service levels,
# the whole stack up, its status, and down.
demo: system-deps venv
	$(VENV)/bin/odoo-resilience doctor
	$(VENV)/bin/odoo-resilience levels check
	$(VENV)/bin/odoo-resilience up
	$(VENV)/bin/odoo-resilience status; rc=$$?; $(VENV)/bin/odoo-resilience down; exit $$rc
	@echo "not built yet: load, probes, faults, scenarios and the report (open issues 5-7)"

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
