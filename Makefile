# framewatch: two commands for a new user, `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
export PIP_DEFAULT_TIMEOUT ?= 180

.PHONY: demo test lint format setup dev lock heads clean e2e

# Torch goes first and pinned: an unpinned resolve pulls a multi-GB CUDA build. The encoder
# (model folder + int8 ONNX graph, about a minute) is built here once, not on first use.
$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -c constraints.txt torch
	$(PIP) install -c constraints.txt -e .
	$(PY) -m models.encoder --build --backend onnx
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -c constraints.txt -e '.[dev]'
	scripts/ensure-chromium
	@touch $@

setup: $(VENV)/.installed
dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(VENV)/bin/framewatch demo

test: $(VENV)/.installed-dev
	$(PY) -m pytest -q

e2e: $(VENV)/.installed-dev
	$(PY) -m pytest -q -m e2e

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Rebuild the committed classifier heads from ../shared/data/dev and the seed files.
heads: $(VENV)/.installed
	$(VENV)/bin/framewatch train --out models/heads

lock: $(VENV)/.installed-dev
	$(PIP) freeze --exclude-editable | sed 's/+cpu$$//' > constraints.txt

clean:
	rm -rf $(VENV) data reports .pytest_cache .mypy_cache .ruff_cache
