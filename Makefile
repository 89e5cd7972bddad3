# Earshot. `make test` is the test command CI runs; `make run` is the demo.
GO      ?= go
BIN     ?= bin/earshot
GOFILES := $(shell git ls-files '*.go' 2>/dev/null)

.PHONY: all build test check bench bench-e2e soak faults run clean examples

all: build

build:
	$(GO) build $(WHISPER_TAGS) -o $(BIN) ./cmd/earshot

# check: formatting and vet, before the tests.
check:
	@unformatted=$$(gofmt -l $(GOFILES)); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

test: check
	$(GO) test -count=1 -timeout 30m ./...
	$(MAKE) --no-print-directory faults

# run: the demo (scripts/demo.sh says how it finds or gets a transcription
# engine). DEMO_LANG=ko, ASR_URL=..., ENGINE=none, WHISPER_DIR=...,
# WHISPER_MODEL=..., DATA=..., HTTP=..., RTP=..., NATS_LISTEN=... pass through.
run:
	@scripts/demo.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# bench-e2e: earshot run end to end under N concurrent two-leg calls from
# earshot load, the transcriber a scripted load-test double that answers at
# once (so only Earshot's own stages count); writes the table into
# README.md (Performance, End to end). Not part of make test. CALLS,
# DURATION (each run) and TOP_DURATION (the largest; the throughput issue
# asks 5m) pass through.
CALLS        ?= 100,500,1000,2000
DURATION     ?= 60s
TOP_DURATION ?= $(DURATION)
bench-e2e:
	$(GO) run ./scripts/bench-e2e -calls $(CALLS) -duration $(DURATION) -top-duration $(TOP_DURATION)

# soak: earshot run under CALLS concurrent calls (default 200) for
# DURATION (default 10m) with the scripted transcriber (bench-e2e -soak):
# every process's resident memory sampled each 10 s and its slope, the
# queues' depths and growth, the p95 from an utterance's end to its final
# segment (fails at 1 s or more); written into README.md (Performance,
# Soak). Not part of make test. CALLS and DURATION set on the command line
# or in the environment win over these defaults.
# faults: the fault harness of the scaled-out shape (cmd/earshot
# TestFaultsUnderLoad: 3-node NATS cluster, two of each stage, PostgreSQL
# from EARSHOT_TEST_POSTGRES, skipped with a message without it). make test
# runs it last, alone: with every package's tests at once on two cores its
# timings would measure the machine's load.
faults:
	EARSHOT_FAULTS=1 $(GO) test -count=1 -timeout 10m -run TestFaultsUnderLoad -v ./cmd/earshot

soak: CALLS := $(if $(filter command line environment,$(origin CALLS)),$(CALLS),200)
soak: DURATION := $(if $(filter command line environment,$(origin DURATION)),$(DURATION),10m)
soak:
	$(GO) run ./scripts/bench-e2e -soak -calls $(CALLS) -duration $(DURATION)

# examples: render the demo's example calls (examples/calls/NAME.json and
# examples/calls-ko/NAME.json scripts to NAME.agent.wav and NAME.customer.wav,
# 8 kHz) with espeak-ng and sox.
examples:
	$(GO) run ./examples/gen

clean:
	rm -rf bin

# --- whisper engine (transcribe/whisper) ------------------------------------
# libwhisper is found through pkg-config (whisper.pc, which whisper.cpp's
# cmake --install writes; PKG_CONFIG_PATH=PREFIX/lib/pkgconfig for a prefix of
# your own) or, failing that, by compiling and linking a one-line program
# against whisper.h and the libraries in the compiler's default paths (then
# the tag whisper_nopkgconfig). Shared and static (BUILD_SHARED_LIBS=OFF)
# builds both link. With whisper.pc, CGO_LDFLAGS gets an rpath to its
# library directory: a shared libwhisper outside the loader's paths is found
# at run time, and Go's build cache, which does not notice a change of
# PKG_CONFIG_PATH, sees a different libwhisper as a different build.
# When found, `make build` builds the whisper engine in and `make test`
# also vets and tests the tagged packages; when not, both stay untagged
# and pass.
WHISPER_LIBS := -lwhisper -lggml -lggml-cpu -lggml-base -lgomp -lstdc++ -lm
WHISPER_LIBDIR := $(shell pkg-config --variable=libdir whisper 2>/dev/null)
HAVE_WHISPER := $(if $(WHISPER_LIBDIR),yes,$(shell \
	printf '\043include <whisper.h>\nint main(void){return whisper_version()==0;}\n' | \
	 $${CC:-cc} -x c - $(WHISPER_LIBS) -o /dev/null >/dev/null 2>&1 && echo yes))
comma := ,
WHISPER_TAGS := $(if $(HAVE_WHISPER),-tags $(if $(WHISPER_LIBDIR),whisper,whisper$(comma)whisper_nopkgconfig))
ifneq ($(WHISPER_LIBDIR),)
CGO_LDFLAGS ?= -O2 -g
export CGO_LDFLAGS += -Wl,-rpath,$(WHISPER_LIBDIR)
endif
.PHONY: test-whisper
test: test-whisper
test-whisper:
ifeq ($(HAVE_WHISPER),yes)
	$(GO) vet $(WHISPER_TAGS) ./transcribe/... ./cmd/earshot
	$(GO) test -count=1 -timeout 20m $(WHISPER_TAGS) ./transcribe/... ./cmd/earshot
else
	@echo "libwhisper not found (pkg-config whisper, or whisper.h + -lwhisper): the whisper engine is not built; its tests are skipped"
endif
