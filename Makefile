# Appeal Hub. `make` (or `make help`) lists every target; `make run` and `make test` are the only set-up
# a new user needs on a fresh Debian 12 machine (as root): they install and start PostgreSQL and
# RabbitMQ when needed.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

GO ?= go
HTTP_ADDR ?= 127.0.0.1:8080
SANDBOX_A_ADDR ?= 127.0.0.1:8091
SANDBOX_B_ADDR ?= 127.0.0.1:8092
TEST_DATABASE_URL ?= postgres://appealhub:appealhub@127.0.0.1:5432/appealhub_test?sslmode=disable&connect_timeout=5
TEST_AMQP_URL ?= amqp://guest:guest@127.0.0.1:5672/
# `make fuzz` runs each fuzz target for FUZZTIME when it is given (make fuzz FUZZTIME=2m), else 60s.
ifeq ($(origin FUZZTIME),undefined)
FUZZTIME_LONG := 60s
else
FUZZTIME_LONG := $(FUZZTIME)
endif
FUZZTIME ?= 10s
# The short fuzz pass at the end of `make test`.
FUZZTIME_SHORT ?= 5s
TEST_TIMEOUT ?= 25m
BENCH_TIMEOUT ?= 30m
# `make soak`: how long the steady load runs (SOAK_RATE appeals/s, default 30).
SOAK_DURATION ?= 30m
SOAK_TIMEOUT ?= 120m
BIN := bin/appealhub
INTEGRATION_PKGS := ./internal/... ./router/... ./cmd/...

export TEST_DATABASE_URL TEST_AMQP_URL FUZZTIME
# Build with the installed Go only, never a downloaded toolchain.
export GOTOOLCHAIN ?= local

# gofmt over the .go files of every package of the module (not vendor/ or testdata/): must list nothing.
GOFMT_CHECK = out=$$(gofmt -l $$($(GO) list -e -f '{{.Dir}}/*.go' ./...)); \
	if [[ -n "$$out" ]]; then printf 'gofmt: these files need formatting (gofmt -w):\n%s\n' "$$out" >&2; exit 1; fi

# What `make test` runs with, as CI does: a missing service fails a test instead of skipping it.
TEST_ENV := CI=true

.PHONY: help services build run test test/race test/integration fuzz bench lint vuln verify generate clean

help: ## Show this list of targets
	@printf 'Usage: make <target> [VAR=value …]\n\nTargets:\n'
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_\/-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@printf '\nVariables (current value):\n'
	@printf '  %-18s %s\n' GO '$(GO)' HTTP_ADDR '$(HTTP_ADDR)' SANDBOX_A_ADDR '$(SANDBOX_A_ADDR)' \
		SANDBOX_B_ADDR '$(SANDBOX_B_ADDR)' TEST_DATABASE_URL '$(TEST_DATABASE_URL)' \
		TEST_AMQP_URL '$(TEST_AMQP_URL)' FUZZTIME '$(FUZZTIME) (make fuzz: $(FUZZTIME_LONG))' \
		FUZZTIME_SHORT '$(FUZZTIME_SHORT)'

services: ## Install (if missing) and start PostgreSQL and RabbitMQ; create the appealhub role and databases; install Chromium for the console's browser test
	@bash scripts/services.sh
	@bash scripts/browser.sh

build: ## Build bin/appealhub
	$(GO) build -o $(BIN) ./cmd/appealhub

run: services build ## Run the demo: hub on HTTP_ADDR, sandbox authorities on SANDBOX_A_ADDR and SANDBOX_B_ADDR
	$(BIN) demo --http-addr $(HTTP_ADDR) --sandbox-a $(SANDBOX_A_ADDR) --sandbox-b $(SANDBOX_B_ADDR)

test: services ## Vet, run every test against the real services, then a short fuzz pass (FUZZTIME_SHORT each)
	$(GO) vet ./...
	$(TEST_ENV) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(TEST_ENV) bash scripts/fuzz.sh $(FUZZTIME_SHORT)

test/race: services ## Run every test with the race detector
	$(TEST_ENV) $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

test/integration: services ## Run only the packages whose tests use PostgreSQL and RabbitMQ
	$(TEST_ENV) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(INTEGRATION_PKGS)

.PHONY: scale
scale: ## Measure 10,000 authorities on a private RabbitMQ node, classic vs quorum queues (docs/scale.md; as root)
	bash scripts/scale.sh

.PHONY: chaos
chaos: ## Fault scenarios R0–R10 and N1 (three-node cluster), on private broker nodes and PostgreSQL (docs/reliability.md; as root)
	bash scripts/chaos.sh

.PHONY: test-reference
test-reference: ## Check the SEV 1207 adapter against reference material: make test-reference REF=DIR (Header.xsd, samples/)
	@if [[ -z "$(REF)" ]]; then echo "usage: make test-reference REF=DIR (a directory with Header.xsd and samples/)" >&2; exit 2; fi
	bash scripts/reference.sh "$(REF)"

fuzz: ## Run every fuzz target for FUZZTIME (default 60s here)
	bash scripts/fuzz.sh $(FUZZTIME_LONG)

bench: services ## Run the benchmarks once each (submissions/s, deliveries/s, latency; the hub against a minimal pipeline)
	$(TEST_ENV) $(GO) test -run '^$$' -bench . -benchtime 1x -timeout $(BENCH_TIMEOUT) ./internal/bench/...
	$(TEST_ENV) $(GO) test -run '^$$' -bench '^BenchmarkStats$$' -benchtime 1x -timeout $(BENCH_TIMEOUT) ./internal/store

.PHONY: bench-scale
bench-scale: services ## The hub against the minimal pipeline with 5 MiB bodies, 1,000 and 10,000 authorities (docs/performance.md; as root)
	bash scripts/bench-scale.sh

.PHONY: soak
soak: services ## The hub as an OS process at a steady rate for SOAK_DURATION (default 30m), its RSS sampled (docs/performance.md)
	$(TEST_ENV) SOAK_DURATION=$(SOAK_DURATION) $(GO) test -tags soak -run '^$$' -bench '^BenchmarkSoak$$' -benchtime 1x \
		-timeout $(SOAK_TIMEOUT) ./internal/bench/

lint: ## gofmt must list nothing, go vet must pass; also golangci-lint and shellcheck when installed
	@$(GOFMT_CHECK)
	$(GO) vet ./...
	@if command -v golangci-lint >/dev/null; then golangci-lint run ./...; \
		else echo "lint: golangci-lint not installed: skipped"; fi
	@if command -v shellcheck >/dev/null; then shellcheck scripts/*.sh .ci/run; \
		else echo "lint: shellcheck not installed: skipped"; fi

vuln: ## Check dependencies for known vulnerabilities with govulncheck
	@if command -v govulncheck >/dev/null; then govulncheck ./...; \
		else echo "vuln: govulncheck is not installed. Install it with"; \
		echo "  $(GO) install golang.org/x/vuln/cmd/govulncheck@v1.1.4"; \
		echo "or run it once with"; \
		echo "  $(GO) run golang.org/x/vuln/cmd/govulncheck@v1.1.4 ./..."; exit 1; fi

verify: ## gofmt, go vet and go mod verify
	@$(GOFMT_CHECK)
	$(GO) vet ./...
	$(GO) mod verify

generate: ## Regenerate generated files (go generate; docs/configuration.md reference)
	$(GO) generate ./...
	$(GO) test -count=1 ./config -run TestConfigurationReference -update

clean: ## Remove build output, coverage files and test artifacts
	rm -rf bin/ artifacts/ coverage.out coverage.html *.coverprofile
