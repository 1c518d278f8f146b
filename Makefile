# The two Quick start commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: demo test lint format system-deps clean

$(VENV)/.stamp-base: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.stamp-dev: $(VENV)/.stamp-base
	$(PIP) install -q -e ".[dev,phonemes,eval]"
	touch $@

# Optional system packages used by tests (espeak-ng for the phoneme front-end,
# chromium for the browser test of the app),
# installed when we are root with apt-get; otherwise those tests skip with a reason.
system-deps:
	@bash scripts/system_deps.sh

$(VENV)/.stamp-demo: $(VENV)/.stamp-base
	$(PIP) install -q -e ".[phonemes]"
	touch $@

# The bundled voice reads espeak-ng phonemes.
demo: $(VENV)/.stamp-demo
	@bash scripts/system_deps.sh espeak-ng
	$(PY) app.py --host $(HOST) --port $(PORT)

test: $(VENV)/.stamp-dev system-deps
	$(PY) -m pytest -q

lint: $(VENV)/.stamp-dev
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: $(VENV)/.stamp-dev
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache
