# Everyday commands. `make run` and `make test` are the README's two commands.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: install run test lint format migrate bench system-deps services clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed  ## Python dependencies into .venv

system-deps:  ## Debian packages (poppler, qpdf, chromium, age, ...)
	scripts/system-deps.sh

services:  ## make sure local PostgreSQL and Redis answer
	scripts/services.sh

run: install  ## install, create the instance and demo accounts, start on http://127.0.0.1:8000
	@command -v redis-server >/dev/null || scripts/system-deps.sh
	$(BIN)/exchange init
	$(BIN)/exchange demo
	$(BIN)/exchange up --host 127.0.0.1 --port 8000

test: install system-deps services  ## the whole test suite, against real Redis, PostgreSQL, worker and Chromium
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check exchange workers tests benchmarks
	$(BIN)/ruff format --check exchange workers
	$(BIN)/mypy

format: install
	$(BIN)/ruff format exchange workers tests benchmarks
	$(BIN)/ruff check --fix exchange workers tests benchmarks

migrate: install
	$(BIN)/exchange db upgrade

bench: install
	$(PY) benchmarks/bench_scan.py
	$(PY) benchmarks/bench_pdf_redact.py
	$(PY) benchmarks/bench_image_redact.py
	$(PY) benchmarks/bench_pdf_ocr.py
	$(PY) benchmarks/bench_office.py
	$(PY) benchmarks/bench_xlsx.py
	$(PY) benchmarks/bench_video.py
	$(PY) benchmarks/bench_sandbox.py
	$(PY) benchmarks/bench_blobstores.py
	$(PY) benchmarks/bench_web.py
	$(PY) benchmarks/bench_case_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
