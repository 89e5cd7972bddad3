# Earshot. `make test` is the test command CI runs; `make run` is the demo.
GO      ?= go
BIN     ?= bin/earshot
GOFILES := $(shell git ls-files '*.go' 2>/dev/null)

.PHONY: all build test check bench run clean examples

all: build

build:
	$(GO) build -o $(BIN) ./cmd/earshot

# check: formatting and vet, before the tests.
check:
	@unformatted=$$(gofmt -l $(GOFILES)); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

test: check
	$(GO) test -count=1 -timeout 30m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# examples: render the demo's example calls (examples/calls/NAME.json scripts
# to NAME.agent.wav and NAME.customer.wav, 8 kHz) with espeak-ng and sox.
examples:
	$(GO) run ./examples/gen

clean:
	rm -rf bin
