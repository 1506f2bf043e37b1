# synops — see README.md. `make test` is what CI runs (.ci/run).
SHELL := bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := build

# The Synapse the tests and the demo run: the newest release that installs on
# this machine's Python 3.11. Bump deliberately; the test output names it.
SYNAPSE_VERSION := 1.163.2
PYTHON ?= python3
VENV := .cache/synapse-venv
VENV_STAMP := $(VENV)/.installed-$(SYNAPSE_VERSION)
GO ?= go
GOFLAGS_TEST ?= -count=1 -timeout 20m

export SYNOPS_SYNAPSE_VENV := $(CURDIR)/$(VENV)

# docker compose v2 is not packaged in bookworm (only docker-compose v1 is):
# the tests run both, so the plugin is built once from the module proxy.
COMPOSE_V2_VERSION := v2.24.7
COMPOSE_V2 := .cache/docker-config/cli-plugins/docker-compose
export SYNOPS_COMPOSE_V2_CONFIG := $(CURDIR)/.cache/docker-config

.PHONY: build test demo bench lint synapse-env deps clean tape pictures compose-v2

build:
	$(GO) build -o bin/synops ./cmd/synops

# System packages the test bed needs: PostgreSQL server binaries, libpq headers
# (psycopg2 builds from source), a C compiler for it, tmux for the end-to-end run,
# a Docker engine with both compose spellings and a static busybox for the
# backup tests' compose deployment (images are built locally: no registry),
# curl and jq for seed 000's purge script in the purge race (make bench).
deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || missing="$$missing postgresql"; \
	command -v pg_config >/dev/null || missing="$$missing libpq-dev"; \
	command -v cc >/dev/null || missing="$$missing gcc"; \
	command -v tmux >/dev/null || missing="$$missing tmux"; \
	command -v dockerd >/dev/null || missing="$$missing docker.io"; \
	command -v docker-compose >/dev/null || missing="$$missing docker-compose"; \
	dpkg -s busybox-static >/dev/null 2>&1 || missing="$$missing busybox-static"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	command -v jq >/dev/null || missing="$$missing jq"; \
	$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

synapse-env: $(VENV_STAMP)

$(VENV_STAMP): | deps
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check "matrix-synapse[postgres]==$(SYNAPSE_VERSION)"
	GIT_DIR=/nonexistent $(VENV)/bin/python -c 'import synapse, psycopg2; print("Synapse", synapse.__version__, "installed in $(VENV)")'
	touch $@

# The compose plugin, built once into .cache (about two minutes). `go install`
# fails on its replace directives; building in a copy of the module works.
compose-v2: $(COMPOSE_V2)

$(COMPOSE_V2):
	@echo "building the docker compose $(COMPOSE_V2_VERSION) plugin (once)"
	src=$$($(GO) mod download -json github.com/docker/compose/v2@$(COMPOSE_V2_VERSION) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p'); \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cp -r "$$src/." "$$tmp"; chmod -R u+w "$$tmp"; \
	mkdir -p $(dir $@); \
	(cd "$$tmp" && CGO_ENABLED=0 GOFLAGS= $(GO) build -o $(CURDIR)/$@.tmp ./cmd); \
	mv $@.tmp $@

# Every test, integration tests included, against a real Synapse, a real
# PostgreSQL and a real Docker engine (.ci/with-dockerd starts one for the
# run and removes it after, also when tests fail). A skipped test fails the
# run: nothing here may skip silently.
test: synapse-env compose-v2
	@echo "Synapse $$(GIT_DIR=/nonexistent $(VENV)/bin/python -c 'import synapse; print(synapse.__version__)') from $(VENV)"
	.ci/with-dockerd $(GO) test $(GOFLAGS_TEST) -v ./... 2>&1 | tee .cache/test.log | grep -v -E '^(=== (RUN|PAUSE|CONT|NAME)|\s*--- PASS)'
	@if grep -E -- '--- SKIP' .cache/test.log; then echo "FAIL: tests were skipped (see above)"; exit 1; fi
	@echo "test: $$(grep -c -E -- '--- PASS' .cache/test.log) passed, 0 failed"

demo: build synapse-env
	$(GO) run ./cmd/synops-sandbox run -- bin/synops

bench: synapse-env compose-v2
	.ci/with-dockerd $(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./... 2>&1 | tee .cache/bench.log
	@echo "--- the results of this run (all lines in .cache/bench.log):"; grep -h -E 'RATIO|RESULT' .cache/bench.log | sed -E 's/^ *[a-z_]+_test.go:[0-9]+: *//'


# The README's pictures (.ci/pictures/*.png), taken from the real console on
# the sandbox: tmux capture with colours, aha to HTML, headless Chromium to PNG.
pictures: build synapse-env
	@missing=""; command -v aha >/dev/null || missing="$$missing aha"; command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	$(GO) run ./cmd/synops-sandbox --dir .cache/pictures-sandbox --quiet run -- .ci/pictures.sh .ci/pictures

# VHS lives in its own tools module (.ci/tools) so the product's go.mod stays lean.
tape:
	cd .ci/tools && $(GO) tool vhs validate ../../demo.tape

lint: tape
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
	$(GO) vet ./...

clean:
	rm -rf bin .cache/test.log
