# One command for each job. CI runs `make test` on a clean clone (.ci/run).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip --disable-pip-version-check -q

.PHONY: run test bench lint chromium wrk clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PIP) install -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PIP) install -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(PY) -m bot serve

# Browser tests drive Debian's Chromium headless; install it when missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }

test: $(VENV)/.dev chromium
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

# The webhook benchmark drives the server with Debian's wrk when it is there
# (a Python load generator otherwise costs the server CPU on a 2-core machine).
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk >/dev/null || \
	  echo "wrk not installed: bench/webhook.py falls back to Python threads"; }

bench: $(VENV)/.dev wrk
	$(PY) bench/accuracy.py
	$(PY) bench/fitted_cv.py
	$(PY) bench/classify_speed.py
	$(PY) bench/real_units.py
	$(PY) bench/queue_speed.py
	$(PY) bench/webhook.py

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) data/*.db*
