# The two commands a newcomer types: `make run` and `make test`. Everything else is for developers.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := wsgi

.PHONY: run test lint format check migrate-check translations extract clean

# Serve on HOST:PORT: SQLite in instance/ unless DATABASE_URL says otherwise.
run: $(VENV)/.runtime translations
	$(BIN)/flask db upgrade
	$(BIN)/flask run --host $(HOST) --port $(PORT)

# The suite on TEST_DATABASE_URL, else a throwaway PostgreSQL, else SQLite (the report header says which).
test: $(VENV)/.dev translations
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check: lint test

# Upgrade an empty database from nothing and prove the models need no new migration.
migrate-check: $(VENV)/.runtime
	$(BIN)/flask db upgrade
	$(BIN)/flask db check
	$(BIN)/flask db downgrade base
	$(BIN)/flask db upgrade

# The pages' catalogues (referral/web/translations/*/messages.po), compiled; after editing the pages, run
# `make extract` and translate what is new in each messages.po.
translations: $(VENV)/.runtime
	@$(BIN)/pybabel compile -d referral/web/translations >/dev/null

extract: $(VENV)/.dev
	$(BIN)/pybabel extract -F babel.cfg -k _l --no-location --omit-header -o referral/web/translations/messages.pot .
	$(BIN)/pybabel update -i referral/web/translations/messages.pot -d referral/web/translations --width 120 --ignore-obsolete

$(VENV)/.python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "referral needs Python 3.11 or newer; set PYTHON=python3.12 (or similar)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@touch $@

$(VENV)/.runtime: $(VENV)/.python requirements.txt
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
