# The README's two commands are `make run` and `make test`; the other targets are helpers.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The participant pages' message catalogues (Flask-Babel): .po in git, .mo built at install.
TRANSLATIONS := service/web/translations
export FLASK_APP := wsgi

.PHONY: run test lint soak-api setup-instance clean catalogues

$(BIN)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/pybabel -q compile -d $(TRANSLATIONS)
	touch $@

# The participant pages' words: extract them from the templates and modules (babel.cfg), merge
# them into each language's catalogue (translators fill in msgstr), then compile. The compiled
# .mo files are built at install, never committed.
catalogues: $(BIN)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg -k lazy_gettext --no-location --sort-output -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel -q update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel -q compile -d $(TRANSLATIONS)

# A catalogue edited by hand is compiled again before the pages are served or tested.
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po))
%/LC_MESSAGES/messages.mo: %/LC_MESSAGES/messages.po $(BIN)/.installed
	$(BIN)/pybabel -q compile -i $< -o $@

# Install, create the local keyring once, migrate, sync instruments, create the first admin
# token once, then serve.
run: $(BIN)/.installed $(CATALOGUES)
	$(BIN)/flask keys init --if-missing
	$(BIN)/flask db upgrade
	$(BIN)/flask instruments sync
	$(BIN)/flask tokens bootstrap-admin
	$(BIN)/gunicorn --config gunicorn.conf.py --bind $(HOST):$(PORT) wsgi:app

# The whole suite; set TEST_DATABASE_URL=postgresql+psycopg://... to run it on PostgreSQL.
# TEST_WORKERS processes (pytest-xdist), each test file kept on one worker.
TEST_WORKERS ?= 2
test: $(BIN)/.installed $(CATALOGUES)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --cov --cov-report=term:skip-covered $(PYTEST_ARGS)

# Schemathesis against a live gunicorn, positive then negative cases, SOAK_EXAMPLES per operation.
SOAK_EXAMPLES ?= 1000
soak-api: $(BIN)/.installed
	SCHEMATHESIS_MAX_EXAMPLES=$(SOAK_EXAMPLES) SCHEMATHESIS_MODES=positive,negative \
		$(BIN)/pytest -p no:cacheprovider tests/system/test_schemathesis.py -v -s

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy service schemas
	$(BIN)/hadolint Dockerfile
	$(BIN)/python deploy/check_compose.py compose.yaml
	$(BIN)/bandit -q -c pyproject.toml -r service schemas migrations deploy wsgi.py gunicorn.conf.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
