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

demo: $(STAMP)
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(COMPILEMESSAGES)
	bash -c 'set -m; \
	  $(PY) manage.py messaging_smtpd --port $(SMTP_PORT) & smtpd=$$!; \
	  $(PY) manage.py db_worker --interval 0.5 & worker=$$!; \
	  trap "kill $$smtpd $$worker 2>/dev/null" EXIT INT TERM; \
	  for i in $$(seq 100); do (echo > /dev/tcp/127.0.0.1/$(SMTP_PORT)) 2>/dev/null && break; sleep 0.1; done; \
	  $(PY) manage.py messaging_demo && \
	  echo "Admin: http://127.0.0.1:8000/admin/  login: admin / admin" && \
	  $(PY) manage.py runserver 127.0.0.1:8000'

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
	$(PY) manage.py makemessages -l nb --ignore=.venv* --ignore=var --no-obsolete

# The documentation (docs/, MyST Markdown): any warning fails the build.
docs: $(STAMP)
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html
