# The project's commands. `make test` is what CI runs.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export MOTO_PYTHON := $(abspath $(PY))

.PHONY: demo local test lint bench venv clean

## Installs the pinned Python tools (moto) into .venv, once per change of requirements-dev.txt.
venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt
	@echo "==> installing Python tools into $(VENV) (first time: about a minute)"
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

## The whole system locally: moto for AWS, the five functions under cargo lambda, the reference
## samples replayed through the Callback URL, and what was sent and stored printed.
demo: venv
	@$(PY) scripts/local_stack.py demo

## The same stack, left running until Ctrl-C; prints the Callback URL, endpoint, table and key.
local: venv
	@$(PY) scripts/local_stack.py local

## Every test of the workspace; each test starts its own moto server on loopback.
test: venv
	@if cargo nextest --version >/dev/null 2>&1; then \
		cargo nextest run --workspace --all-targets --no-fail-fast; \
	else \
		cargo test --workspace --all-targets --no-fail-fast; \
	fi

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

## The ingress path's CPU cost per callback against a bare JSON parse, as a table.
bench:
	cargo bench -p identomat-callbacks --bench ingress_path
	@python3 scripts/bench_table.py target/criterion

clean:
	rm -rf $(VENV) target
