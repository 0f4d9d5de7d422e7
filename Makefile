# Jokster — build, run and test. docs/setup.md explains what each step does.
#
#   make run     services, web UI, binary, migrate, seed, then serve (API + worker)
#   make test    services, web UI, gofmt + go vet, then all Go tests with -race
#
# Settings come from the environment; these are only the defaults.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

GO ?= go
FUZZTIME ?= 15s
BIN := bin/jokster

DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/jokster?sslmode=disable
REDIS_URL ?= redis://127.0.0.1:6379/0
export DATABASE_URL REDIS_URL

# Sets the shell variable pkgs to the module's Go packages, leaving out
# web/node_modules (some npm packages carry .go files, which `./...` includes).
LIST_PACKAGES = pkgs=$$($(GO) list -e ./... | grep -v '/node_modules/')
# Go files for gofmt, the same way.
GO_FILES = find . \( -name node_modules -o -name .git -o -name vendor \) -prune -o -type f -name '*.go' -print0

.PHONY: help run test check build web services clean nginx-check cluster cluster-test

help:
	@echo "make run       start PostgreSQL/Redis if needed, build the web UI and bin/jokster, migrate, seed, serve"
	@echo "make test      start PostgreSQL/Redis if needed, build the web UI, run 'make check' and go test -race ./..."
	@echo "make check     gofmt (must print nothing) and go vet"
	@echo "make build     build $(BIN)"
	@echo "make web       build the web UI (web/dist) with npm, if web/package.json exists"
	@echo "make services  make sure PostgreSQL and Redis answer (scripts/services.sh ensure)"
	@echo "make cluster   nginx in front of 3 'jokster serve' nodes and a worker on loopback (what docker compose runs)"
	@echo "make cluster-test  the cluster's test: clients through nginx, an API node killed mid-load (part of make test)"
	@echo "make nginx-check   render nginx/*.template and run nginx -t on it (part of make test)"
	@echo "make clean     remove build output (bin/)"

run:
	@echo "==> run: services, tools (ffmpeg), web UI, $(BIN), migrate, seed, serve"
	scripts/services.sh ensure tools
	$(MAKE) web
	$(MAKE) build
	@echo "==> run: $(BIN) migrate"
	$(BIN) migrate
	@echo "==> run: $(BIN) seed"
	$(BIN) seed
	@echo "==> run: $(BIN) all (API, WebSocket and worker in one process; Ctrl-C stops it)"
	exec $(BIN) all

test:
	@echo "==> test: services, tools (ffmpeg, nginx, chromium), web UI, check, go test -race, cluster, fuzz, web and browser tests"
	scripts/services.sh ensure cgo tools
	$(MAKE) web
	$(MAKE) check
	@echo "==> test: go test -race -count=1 -timeout 30m (all packages)"
	$(LIST_PACKAGES); pkgs=$$(printf '%s\n' $$pkgs | grep -v '/cluster$$'); \
	log=$$(mktemp /tmp/jokster-go-test.XXXXXX.log); \
	if ! $(GO) test -race -count=1 -timeout 30m $$pkgs 2>&1 | tee "$$log"; then \
		echo "==> test: go test failed; the failures (full output in $$log):"; \
		grep -n -A12 -E -- '^\s*--- FAIL|^panic:|^FAIL\s|DATA RACE|timed out' "$$log" | head -n 150; \
		exit 1; \
	fi; rm -f "$$log"
	$(MAKE) nginx-check
	$(MAKE) cluster-test
	@echo "==> test: fuzz the upload sniffer and validator briefly (FUZZTIME=$(FUZZTIME))"
	$(GO) test ./media -run '^$$' -fuzz '^FuzzIngest$$' -fuzztime $(FUZZTIME)
	$(GO) test ./media -run '^$$' -fuzz '^FuzzSniff$$' -fuzztime $(FUZZTIME)
	@echo "==> test: web unit tests (Vitest)"
	cd web && npm test
	@echo "==> test: browser tests (Debian chromium, real server, own database and redis-server)"
	$(MAKE) build
	cd web && E2E_SKIP_BUILD=1 JOKSTER_BIN=$(CURDIR)/$(BIN) npm run e2e

check:
	@echo "==> check: gofmt -l (must print nothing)"
	@unformatted=$$($(GO_FILES) | xargs -0r gofmt -l); \
	if [ -n "$$unformatted" ]; then \
		echo "these files need gofmt -w:"; echo "$$unformatted" | sed 's/^/    /'; exit 1; \
	fi
	@echo "==> check: go vet"
	$(LIST_PACKAGES); $(GO) vet $$pkgs

build:
	@echo "==> build: $(GO) build -o $(BIN) ./cmd/jokster"
	$(GO) build -o $(BIN) ./cmd/jokster

web:
	@if [ -f web/package.json ]; then \
		echo "==> web: npm ci && npm run build (in web/)"; \
		scripts/services.sh node; \
		cd web; \
		if [ -f package-lock.json ]; then npm ci; \
		else echo "==> web: no web/package-lock.json, so npm install instead of npm ci"; npm install; fi; \
		npm run build; \
	else \
		echo "==> web: no web/package.json yet, so there is no web build to do"; \
	fi

services:
	@echo "==> services: scripts/services.sh ensure"
	scripts/services.sh ensure

# The same templates serve docker compose and the loopback cluster; here with
# loopback upstreams, in a temporary prefix, so nginx -t needs no root paths.
nginx-check:
	@echo "==> nginx-check: render nginx/*.template (nginx/render.sh) and run nginx -t on the result"
	@dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	NGINX_LISTEN=127.0.0.1:8090 NGINX_USER=$$(id -un) NGINX_ACCESS_LOG=off \
	JOKSTER_API_SERVERS="127.0.0.1:8091 127.0.0.1:8092 127.0.0.1:8093" JOKSTER_OPS_SERVER=127.0.0.1:8094 \
	JOKSTER_MEDIA_ROOT="$$dir/media" JOKSTER_WEB_ROOT="$(CURDIR)/web/dist" OPS_PASSWORD=nginx-check \
	sh nginx/render.sh "$$dir"; \
	PATH="$$PATH:/usr/sbin:/usr/local/sbin"; \
	nginx -t -p "$$dir" -c "$$dir/nginx.conf" -e stderr

cluster:
	@echo "==> cluster: nginx + 3 x jokster serve + jokster worker on loopback, own redis-server, database jokster_cluster"
	scripts/services.sh ensure tools
	$(MAKE) web
	$(MAKE) build
	$(GO) build -o bin/jokster-cluster ./cluster/jokster-cluster
	exec bin/jokster-cluster -bin $(BIN)

cluster-test:
	@echo "==> cluster-test: real clients through nginx; an API node killed mid-load (cluster/cluster_test.go)"
	scripts/services.sh ensure tools
	$(GO) test -race -count=1 -timeout 10m ./cluster

clean:
	@echo "==> clean: removing bin/"
	rm -rf bin
