# The two set-up commands of the README: `make demo` and `make test`.
# Both install what they need (Debian packages when root, a virtualenv, the
# package with its extras; for the tests also the pinned npm tools in .tools/)
# and are safe to run again.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint unit integration system-deps tools venv clean

system-deps:
	@scripts/install-system-deps.sh

# The Allure CLI and a JUnit consumer (xunit-viewer), pinned, into .tools/ (gitignored).
tools:
	@scripts/install-tools.sh

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

# The harness's own tests, then the smoke profile end to end on the local platform.
test: system-deps tools venv lint
	$(VENV)/bin/pytest
	$(VENV)/bin/odoo-resilience run --profile smoke --reports-dir reports

# The main job: the smoke profile on the local platform; ends with the report's path.
demo: system-deps venv
	$(VENV)/bin/odoo-resilience doctor
	$(VENV)/bin/odoo-resilience run --profile smoke --reports-dir reports

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
