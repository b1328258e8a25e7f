# tamtam: `make run` installs what is missing and starts the server on the embedded
# ClickHouse; `make test` runs every test against real programs.
GO  ?= go
BIN := bin/tamtam

.PHONY: run test test-short bench fuzz lint fmt build deps deps-test

run: deps build
	./$(BIN) serve

test: deps-test
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

# The developer loop (about two minutes on 2 cores): the long tests (failure, load,
# Chromium, LibreOffice, the big audits) are skipped. make test runs everything.
test-short: deps-test
	$(GO) test -short -count=1 ./...

# Benchmarks of DESIGN.md §7, each measured against its baseline in the same run.
bench: deps-test
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./cmd/tamtam

# Coverage-guided fuzzing, a minute per target (make test runs their seed corpora).
FUZZTIME ?= 60s
fuzz:
	for t in FuzzDecodeEnvelope FuzzValidate FuzzDecodeBatch FuzzNormaliseIdentifier; do \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./collector || exit 1; done
	$(GO) test -run '^$$' -fuzz '^FuzzImport$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s ./collector/paper
	$(GO) test -run '^$$' -fuzz '^FuzzProtect$$' -fuzztime $(FUZZTIME) ./reports/disclosure

# govulncheck is pinned by the tool directive of go.mod. A known vulnerability in
# reachable code (exit 3) fails lint; a vulnerability database that cannot be reached
# (an offline machine) is said loudly, and lint goes on: nothing was checked then. The
# offline copy of the team's shared directory is used when there is one: beside the
# checkout (../shared/vulndb), one level up (a CI clone inside a work directory), or at
# /work/shared/vulndb.
VULNDB_OFFLINE := $(firstword $(wildcard ../shared/vulndb/index/db.json ../../shared/vulndb/index/db.json /work/shared/vulndb/index/db.json))
VULNDB ?= $(if $(VULNDB_OFFLINE),file://$(abspath $(VULNDB_OFFLINE:/index/db.json=)),https://vuln.go.dev)
lint: deps
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: the files above need formatting (make fmt)"; exit 1; }
	$(GO) vet ./...
	$(GO) mod tidy -diff
	@$(GO) tool govulncheck -db $(VULNDB) ./...; rc=$$?; \
	if [ $$rc -eq 3 ]; then exit 1; elif [ $$rc -ne 0 ]; then \
		echo "lint: WARNING: govulncheck could not run (exit $$rc; is $(VULNDB) reachable?): dependencies NOT checked for vulnerabilities"; fi

fmt:
	gofmt -w .

build:
	$(GO) build -o $(BIN) ./cmd/tamtam

deps:
	@scripts/install-deps.sh

deps-test:
	@scripts/install-deps.sh test
