# Chathub. Each of these creates .venv first when needed (requirements-dev.txt, then the project, editable):
#   make demo   start the local PostgreSQL, RabbitMQ and Redis if they are stopped, then a whole speed-dating
#               event on this machine: the emulators, datemaker, the bot and simulated people
#               (python -m chathub_sim.demo $(DEMO_ARGS))
#   make test   start the local PostgreSQL, RabbitMQ and Redis if they are stopped, install Debian's prometheus
#               package for the metrics tests if it is missing, then ruff and the whole pytest suite
#   make run    start the local services if needed, apply the migrations and run datemaker alone
#   make lint   ruff check
#   make bench  start the local services if needed, then the command benchmark (bench/commands.py);
#               the other benchmarks: .venv/bin/python bench/<name>.py
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements.stamp

.PHONY: venv services run test lint bench clean demo

venv: $(STAMP)

# The runtime requirements and the tools (requirements-dev.txt includes requirements.txt), then the project
# itself, editable: .venv/bin/datemaker and .venv/bin/chathub-bot, and chathub_sim importable from anywhere.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

services:
	@scripts/ensure-services.sh

run: venv services
	$(PY) -m datemaker migrate
	$(PY) -m datemaker serve

test: venv services
	@scripts/ensure-tools.sh
	$(VENV)/bin/ruff check .
	@scripts/run-tests.sh $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

bench: venv services
	$(PY) bench/commands.py

# A whole speed-dating event on this machine: emulators, datemaker, the bot, 40 simulated people; ~2 minutes.
# Needs PostgreSQL, RabbitMQ and Redis on localhost (started when installed). DEMO_ARGS=--help lists the options.
demo: venv services
	$(PY) -m chathub_sim.demo $(DEMO_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
