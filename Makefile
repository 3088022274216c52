# fleetplan: the two commands that matter are `make demo` and `make test`.
GO       ?= go
BIN      := bin/fleetplan
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
# The demo fleet lives here: examples/fleetplan.yaml points at it.
DEMO_DIR := $(CURDIR)/.demo
FUZZTIME ?= 10s

.PHONY: all build test demo fuzz bench loadtest outagetest accuracy crashtest vet fmt-check clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/fleetplan

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# The test command: formatting, vet, then every test (unit, contract, CLI scripts,
# crash/resume). Short fuzz runs live in `make fuzz`.
test: fmt-check vet
	$(GO) test -count=1 -timeout 20m ./...

demo: build
	@bash examples/demo.sh $(BIN) $(DEMO_DIR)

fuzz:
	@bash test/fuzz.sh $(FUZZTIME)

bench: build
	@bash test/bench.sh

# Save-to-plan latency of `fleetplan watch` alone. Knobs: SAVES (200), FILES
# (plan files in the repository, 1), DEBOUNCE (100ms).
SAVES    ?= 200
FILES    ?= 1
DEBOUNCE ?= 100ms
bench-watch: build
	$(GO) run ./test/bench/watchbench -header -bin $(BIN) -saves $(SAVES) -files $(FILES) -debounce $(DEBOUNCE)

# The load test at full size: writers route through package shardmap while the
# demo split moves 25,000 customers, once undisturbed and once with SIGKILLs of
# the mover. Knobs: WRITERS, CUSTOMERS, KILLS, BATCH, SEED, FAULTS (see test/load_test.go).
loadtest:
	FLEETPLAN_LOAD=full FLEETPLAN_LOAD_WRITERS=$(WRITERS) FLEETPLAN_LOAD_CUSTOMERS=$(CUSTOMERS) \
	FLEETPLAN_LOAD_KILLS=$(KILLS) FLEETPLAN_LOAD_BATCH=$(BATCH) FLEETPLAN_LOAD_SEED=$(SEED) \
	FLEETPLAN_LOAD_FAULTS=$(FAULTS) \
	$(GO) test -count=1 -timeout 60m -run 'TestLoadDuringMove' -v ./test/

# Three 30 s failovers of the target during one move: 90 s of waiting, more
# than the 60 s retry budget, which starts afresh after every batch. (make test
# runs the same test with 0.5 s outages.)
outagetest:
	FLEETPLAN_OUTAGE=30s $(GO) test -count=1 -timeout 20m -run 'TestMoveWaitsOutThreeFailovers' -v ./test/

# Estimate accuracy of managed-instance operations on the local fleet: OPS runs of
# each kind of operation (make test runs 30), SEED the fleet's seed; prints the
# table docs/BENCHMARKS.md records.
accuracy:
	FLEETPLAN_ACCURACY_OPS=$(or $(OPS),300) FLEETPLAN_ACCURACY_SEED=$(or $(SEED),1) \
	$(GO) test -count=1 -timeout 30m -run 'TestEstimateAccuracy' -v ./fleet/local/

# The crash tests at length: SIGKILLs at SEEDS seeded fault points (make test:
# 30), each resumed (and every other one killed again while resuming), and
# KILLS_EXT kills from outside at seeded moments (make test: 6).
crashtest:
	FLEETPLAN_CRASH_SEEDS=$(or $(SEEDS),120) FLEETPLAN_CRASH_KILLS=$(or $(KILLS_EXT),30) \
	$(GO) test -count=1 -timeout 90m -run 'TestCrashResume|TestExternalKill' -v ./test/

clean:
	rm -rf bin .demo
