# Chathub: two commands do all the set-up on a fresh machine.
#   make run    apply migrations and start datemaker against localhost services
#   make test   create .venv, make sure PostgreSQL and RabbitMQ are up, run the whole suite
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements.stamp

.PHONY: venv services run test lint bench clean demo

venv: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

services:
	@scripts/ensure-services.sh

run: venv services
	$(PY) -m datemaker migrate
	$(PY) -m datemaker serve

test: venv services
	@scripts/ensure-tools.sh
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

bench: venv services
	$(PY) bench/commands.py

# A whole speed-dating event on this machine: emulators, datemaker, the bot, 40 simulated people; ~2 minutes.
# Needs PostgreSQL and RabbitMQ on localhost (it says how to start them). DEMO_ARGS=--help lists the options.
demo: venv
	$(PY) -m datemaker demo $(DEMO_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
