# `make run`  : set up a virtualenv and start Foghorn (the offline demo when no Slack tokens are set)
# `make test` : set up the virtualenv with the test extras, then lint (ruff), type-check
#               bot/ (mypy) and run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run demo test lint setup

$(BIN)/foghorn: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/foghorn

run: setup
	@if [ -n "$$SLACK_BOT_TOKEN" ]; then $(BIN)/foghorn run; else $(BIN)/foghorn demo; fi

demo: setup
	$(BIN)/foghorn demo

lint: setup
	$(BIN)/ruff check bot tests bench
	$(BIN)/mypy

# The suite runs on every core (at most 4 processes), each test on its own loopback ports,
# SQLite files and PostgreSQL databases.
test: lint
	$(BIN)/pytest -q -n auto --maxprocesses 4
