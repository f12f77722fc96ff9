# skygate: build, run and test. `make test` is the one command CI runs.
SHELL := /bin/bash
GO ?= go
BIN := bin/skygate
WASM_EXEC := $(shell $(GO) env GOROOT)/lib/wasm/go_js_wasm_exec

# testcontainers-go must neither guess a gateway address nor pull its reaper image.
export TESTCONTAINERS_HOST_OVERRIDE ?= 127.0.0.1
export TESTCONTAINERS_RYUK_DISABLED ?= true

.PHONY: build run test test-unit test-wasm test-integration test-ts test-browser console-screenshots bench lint openapi stub docker-ready chromium-ready clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./app/cmd/skygate

stub:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/sky ./test/stubsky

run: build
	./$(BIN) serve

test: lint test-unit test-wasm test-ts test-browser test-integration

test-unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /test/integration)

test-wasm:
	GOOS=js GOARCH=wasm $(GO) test -count=1 -exec="$(WASM_EXEC)" ./core/...

test-integration: docker-ready
	$(GO) test -count=1 -timeout 15m ./test/integration/...

test-ts: build stub
	cd openapi/ts && npm ci --no-audit --no-fund && npm test

# The console in headless Debian Chromium against bin/skygate and the stub sky.
test-browser: build stub chromium-ready
	cd test/browser && npm ci --no-audit --no-fund && npm test

# docs/console.png and docs/console-narrow-dark.png, from a fleet on the stub sky.
console-screenshots: build stub chromium-ready
	cd test/browser && npm ci --no-audit --no-fund && npm run screenshots

bench: build stub
	$(GO) test -run='^$$' -bench=. -benchmem ./core/... ./adapters/... 
	$(GO) run ./test/load -skygate $(BIN)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...

openapi: build
	./$(BIN) openapi > openapi/openapi.yaml

# Installs and starts Docker where it is missing and we may (root on Debian), then waits.
docker-ready:
	@bash test/docker-ready.sh

# Installs Debian's Chromium where it is missing and we may (root on Debian).
chromium-ready:
	@bash test/chromium-ready.sh

clean:
	rm -rf bin
