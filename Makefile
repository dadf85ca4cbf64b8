# The two commands of the README: `make repro` (main job) and `make test`.
# Both create the virtual environment on first use; nothing else needs installing.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
export DVC_NO_ANALYTICS := 1
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
STAMP := $(VENV)/.installed

.PHONY: setup repro test lint bench-beir clean-venv

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

## Main job: build the index over the default corpus and evaluate every retrieval mode.
repro: setup
	dvc repro

## Tests (unit, reference equivalence, bad input, end-to-end `dvc repro` on a subset).
test: setup
	pytest

## Static checks.
lint: setup
	ruff check src stages bench tests

## Retrieval quality on the shared BEIR benchmarks (writes bench/results/).
bench-beir: setup
	python bench/beir_retrieval.py --dataset scifact
	python bench/beir_retrieval.py --dataset cranfield

clean-venv:
	rm -rf $(VENV)
