# The project's commands. `make test` is what CI runs.
SHELL := /bin/bash
VENV := .venv
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
export MOTO_PYTHON := $(abspath $(PY))
export PATH := $(abspath $(VENV))/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
# sam build targets arm64 by default; where the aarch64 Rust target is missing, build x86_64.
ARCH ?= $(if $(shell rustup target list --installed 2>/dev/null | grep -x aarch64-unknown-linux-gnu),arm64,x86_64)

.PHONY: demo local sam-local email-preview load fuzz test test-scale lint schemas numbering glibc-check template release sam-build deploy-local events redrive bench venv clean bench-reconcile

## Installs the pinned Python tools (moto) into .venv, once per change of requirements-dev.txt.
venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt
	@echo "==> installing Python tools into $(VENV) (first time: about a minute)"
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

## The whole system locally: moto for AWS, the eight functions under cargo lambda, the reference
## samples replayed through the Callback URL, and what was sent and stored printed.
demo: venv
	@$(PY) scripts/local/local_stack.py demo

## The same stack, left running until Ctrl-C; prints the Callback URL, endpoint, table and key.
local: venv
	@$(PY) scripts/local/local_stack.py local

## SAM's own emulation against moto: the Lambda base image (built from Debian's packages where no
## registry is reachable), sam build, every events/ file through sam local invoke, the reference
## callbacks through sam local start-api and start-lambda, each checked (needs Docker).
sam-local: venv release
	@ARCH=$(ARCH) $(PY) scripts/local/sam_local.py check

## The e-mails' HTML, each kind in each layout, rendered by headless Chromium (Debian's package,
## installed when missing) to target/email-preview/ and checked; make test runs the same check.
email-preview: venv
	@$(PY) scripts/checks/email_preview.py

## Callbacks per second, latency and nothing lost, through the local stack (LOAD_CALLBACKS, ...).
load: venv
	@$(PY) scripts/bench/load.py

## The cargo-fuzz target over the ingress handler, seeded from events/; needs nightly and
## cargo-fuzz (cargo install cargo-fuzz), so not part of CI. FUZZ_SECONDS bounds the run.
FUZZ_SECONDS ?= 60
fuzz:
	@mkdir -p fuzz/corpus/ingress
	@cp events/callbacks/*.json fuzz/corpus/ingress/
	cd fuzz && cargo +nightly fuzz run ingress corpus/ingress -- \
		-max_total_time=$(FUZZ_SECONDS) -max_len=70000

## Every test of the workspace and of scripts/, but the long runs at scale (make test-scale);
## each test that talks to AWS starts its own moto server on loopback. The Python tools install
## while the tests compile (pip is one core's work; the build leaves gaps on the other).
test:
	@status=0; \
	$(MAKE) --no-print-directory venv & tools=$$!; \
	if cargo nextest --version >/dev/null 2>&1; then run="cargo nextest run"; else run="cargo test"; fi; \
	$$run --workspace --all-targets --no-run || status=1; \
	wait $$tools || exit 1; \
	[ $$status = 1 ] || $$run --workspace --all-targets --no-fail-fast || status=1; \
	for d in scripts/*/; do $(PY) -m unittest discover -s $$d -p 'test_*.py' || status=1; done; \
	exit $$status

## The tests that prove the same rules at scale (10,000 status changes): minutes, so apart from
## make test; CI runs both.
test-scale: venv
	@if cargo nextest --version >/dev/null 2>&1; then \
		cargo nextest run --workspace --run-ignored only --no-fail-fast; \
	else \
		cargo test --workspace --no-fail-fast -- --ignored; \
	fi

## rustfmt, clippy, the template checks, and the names in the docs against the code.
lint: venv template
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	@$(PY) scripts/checks/check_docs.py

## The SAM template and the README's subscription example: cfn-lint, sam validate --lint, the
## template against the crates and AWS's own rules (scripts/checks/check_template.py), and
## checkov, the scanner a security review runs: every check passes or is skipped in the
## template with its reason.
template: venv $(CHECKOV_VENV)/.installed
	cfn-lint template.yaml examples/subscribe.yaml
	sam validate --lint
	@$(PY) scripts/checks/check_template.py
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --framework cloudformation --skip-download -f template.yaml

## checkov in a virtual environment of its own: its dependencies conflict with the SAM CLI's.
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@echo "==> installing checkov into $(CHECKOV_VENV)"
	@test -x $(CHECKOV_VENV)/bin/python || python3 -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $@

## The eight functions' release bootstraps for ARCH in one cargo lambda build, the command sam
## build runs per function but with every --bin at once: cargo links them side by side (each a
## fat-LTO link on one core), where sam build's one-by-one links leave the other core idle. sam
## build then finds each bootstrap fresh and only copies it. What ships is the same binary.
FUNCTIONS := $(notdir $(wildcard functions/*))
# The release builds have a target folder of their own: they share nothing with the tests' dev
# builds anyway, and so never wait on their lock (CI builds them while the tests run). sam
# build's cargo lambda takes CARGO_TARGET_DIR from the environment.
RELEASE_TARGET := $(abspath target/release-lambda)
release sam-build glibc-check deploy-local sam-local: export CARGO_TARGET_DIR := $(RELEASE_TARGET)
release: venv
	@echo "==> cargo lambda build --release ($(ARCH)), the eight functions at once"
	@mkdir -p target
	@cargo lambda build --release $(if $(filter arm64,$(ARCH)),--arm64) $(addprefix --bin ,$(FUNCTIONS)) \
		> target/release-build-$(ARCH).log 2>&1 || { tail -30 target/release-build-$(ARCH).log; exit 1; }

## What `sam deploy` would upload, for the architecture the machine can build.
sam-build: venv release
	sam build --parameter-overrides Architecture=$(ARCH)

## Every architecture whose Rust target is installed: sam build for each into its own folder,
## then the glibc symbol versions each bootstrap needs, which must be at most Amazon Linux
## 2023's 2.34 (provided.al2023) or the function fails at its first start in AWS.
ARCHES := $(strip $(if $(shell rustup target list --installed 2>/dev/null | grep -x x86_64-unknown-linux-gnu),x86_64) $(if $(shell rustup target list --installed 2>/dev/null | grep -x aarch64-unknown-linux-gnu),arm64))
glibc-check: venv
	@for arch in $(ARCHES); do \
		$(MAKE) --no-print-directory release ARCH=$$arch || exit 1; \
		echo "==> sam build for $$arch"; \
		sam build --build-dir .aws-sam/build-$$arch --parameter-overrides Architecture=$$arch \
			> target/sam-build-$$arch.log 2>&1 || { tail -20 target/sam-build-$$arch.log; exit 1; }; \
		$(PY) scripts/checks/check_glibc.py .aws-sam/build-$$arch || exit 1; \
	done

## sam build, the literal sam deploy into moto (samconfig.toml's `local` environment), the
## deployed bootstraps run with the stack's environment, the reference callbacks replayed; then a
## key rotation, each function's calls against its role, and sam delete (scripts/local/deploy_local.py).
deploy-local: venv release
	@ARCH=$(ARCH) $(PY) scripts/local/deploy_local.py

## Writes schemas/ from the event detail types notify serializes (a test fails until it is run).
schemas:
	cargo run -q -p notify --example schemas

## Writes shared/src/numbering/table.rs (region and number type by prefix) from the metadata of
## the phonenumber crate in Cargo.lock (a test fails until it is run after an update).
numbering:
	cargo run --release -q -p shared --example numbering_table

## Rewrites events/<function>/ from events/callbacks/ (events/notify/ is written by hand).
events:
	@python3 scripts/local/make_events.py

## Cold start, memory and size of every function (release builds against a fake Runtime API);
## then each function as Lambda runs it: a CPU quota per memory size and TLS on every AWS call,
## cold and warm, beside the floors and the Python + boto3 peer, with the cost per million
## (scripts/bench/lambda_bench.py; the quota needs root); then the ingress path's CPU cost per
## callback against a bare JSON parse (criterion).
bench: venv
	@$(PY) scripts/bench/bench.py
	@$(PY) scripts/bench/lambda_bench.py
	cargo bench -p shared --bench ingress_path
	@python3 scripts/bench/bench_table.py target/criterion

## What a session reconciled costs at 128 MB over TLS, the key from Secrets Manager, against
## moto and the local Identomat (scripts/bench/reconcile_bench.py; a CPU quota needs root).
bench-reconcile: venv
	@$(PY) scripts/bench/reconcile_bench.py

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) target
