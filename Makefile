# make demo: set up everything and serve the demo on http://127.0.0.1:8000/admin/
# make test: run the whole test suite
# make test-fast: the same without the slow, browser and benchmark lanes (the inner loop)
# make test VENV=.venv312 PYTHON=python3.12: the same on Django 6.1 (.venv313 and python3.13
# too; see .ci/run)
# make docs: build the documentation into docs/_build/html (see CONTRIBUTING.md)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
SMTP_PORT ?= 8025
WEB_PORT ?= 8000
export EMAIL_PORT := $(SMTP_PORT)

# Django's compilemessages refuses to run where no locale folder exists yet.
COMPILEMESSAGES := if [ -d messaging/locale ]; then $(PY) manage.py compilemessages --ignore=.venv* >/dev/null; fi

.PHONY: demo test test-fast test-devilry lint format install messages docs

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# Stops every process it started on Ctrl-C (also piped to tee), a kill of make, a closed
# terminal or an error: see config/demo.sh (exec: make's SIGTERM goes to the script itself). `make demo WEB_PORT=8001 SMTP_PORT=8026` runs a
# second one beside it (with MESSAGING_VAR_DIR pointing at its own database).
demo: $(STAMP)
	$(COMPILEMESSAGES)
	exec env PY=$(PY) SMTP_PORT=$(SMTP_PORT) WEB_PORT=$(WEB_PORT) bash config/demo.sh

test: $(STAMP)
	$(COMPILEMESSAGES)
	$(PY) -m pytest $(PYTEST_ARGS)

# The inner loop: everything but the slow, browser and benchmark-harness lanes (under 90 s).
test-fast: $(STAMP)
	$(COMPILEMESSAGES)
	$(PY) -m pytest -m "not slow and not browser and not bench" $(PYTEST_ARGS)

# The tests under a user model shaped like the original product's (see README, Tests).
test-devilry: $(STAMP)
	$(PY) -m pytest --ds=tests.settings_devilry $(PYTEST_ARGS) tests/devilry

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy | $(VENV)/bin/mypy-baseline filter

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

messages: $(STAMP)
	$(PY) manage.py makemessages -l nb --ignore=.venv* --ignore=var --ignore=docs --no-obsolete

# The documentation (docs/, MyST Markdown): any warning fails the build.
docs: $(STAMP)
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html
