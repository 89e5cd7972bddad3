# Earshot. `make test` is the test command CI runs; `make run` is the demo.
GO      ?= go
BIN     ?= bin/earshot
GOFILES := $(shell git ls-files '*.go' 2>/dev/null)

.PHONY: all build test check bench run clean examples

all: build

build:
	$(GO) build $(WHISPER_TAGS) -o $(BIN) ./cmd/earshot

# check: formatting and vet, before the tests.
check:
	@unformatted=$$(gofmt -l $(GOFILES)); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

test: check
	$(GO) test -count=1 -timeout 30m ./...

# run: the demo (scripts/demo.sh says how it finds or gets a transcription
# engine). DEMO_LANG=ko, ASR_URL=..., ENGINE=none, WHISPER_DIR=...,
# WHISPER_MODEL=..., DATA=..., HTTP=..., RTP=..., NATS_LISTEN=... pass through.
run:
	@scripts/demo.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# examples: render the demo's example calls (examples/calls/NAME.json and
# examples/calls-ko/NAME.json scripts to NAME.agent.wav and NAME.customer.wav,
# 8 kHz) with espeak-ng and sox.
examples:
	$(GO) run ./examples/gen

clean:
	rm -rf bin

# --- whisper engine (transcribe/whisper) ------------------------------------
# libwhisper is found through pkg-config (whisper.pc) or, failing that, by
# compiling and linking a one-line program against whisper.h and -lwhisper in
# the compiler's default paths. When found, `make build` builds the whisper
# engine in (-tags whisper) and `make test` also vets and tests the tagged
# packages; when not, both stay untagged and pass.
HAVE_WHISPER := $(shell pkg-config --exists whisper 2>/dev/null && echo yes || \
	(printf '\043include <whisper.h>\nint main(void){return whisper_version()==0;}\n' | \
	 $${CC:-cc} -x c - -lwhisper -o /dev/null >/dev/null 2>&1 && echo yes))
WHISPER_TAGS := $(if $(HAVE_WHISPER),-tags whisper)
.PHONY: test-whisper
test: test-whisper
test-whisper:
ifeq ($(HAVE_WHISPER),yes)
	$(GO) vet -tags whisper ./transcribe/... ./cmd/earshot
	$(GO) test -count=1 -timeout 20m -tags whisper ./transcribe/... ./cmd/earshot
else
	@echo "libwhisper not found (pkg-config whisper, or whisper.h + -lwhisper): the whisper engine is not built; its tests are skipped"
endif
