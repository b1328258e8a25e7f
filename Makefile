# tamtam: `make run` installs what is missing and starts the server on the embedded
# ClickHouse; `make test` runs every test against real programs.
GO  ?= go
BIN := bin/tamtam

.PHONY: run test bench lint fmt build deps deps-test

run: deps build
	./$(BIN) serve

test: deps-test
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

lint: deps
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: the files above need formatting (make fmt)"; exit 1; }
	$(GO) vet ./...
	$(GO) mod tidy -diff

fmt:
	gofmt -w .

build:
	$(GO) build -o $(BIN) ./cmd/tamtam

deps:
	@scripts/install-deps.sh

deps-test:
	@scripts/install-deps.sh test
