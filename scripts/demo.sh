#!/usr/bin/env bash
# make run: the Earshot demo on one machine.
#
# 1. Language: DEMO_LANG=en (default) sends the English example calls
#    (examples/calls), DEMO_LANG=ko the Korean ones (examples/calls-ko).
#    LANG=ko is taken as DEMO_LANG=ko only when it is exactly "ko": LANG is
#    otherwise the shell's locale (en_US.UTF-8), not a choice of demo.
# 2. Transcription, first found wins:
#      ASR_URL=http://host:port   an OpenAI-compatible server (--engine http);
#      libwhisper                 pkg-config whisper, WHISPER_DIR (include/ and
#                                 lib/), a build of an earlier demo in
#                                 third_party/whisper, or the default paths;
#      with a model               WHISPER_MODEL, or third_party/models/ggml-base.en.bin
#                                 (Korean: the multilingual ggml-base.bin).
#    Online, a missing libwhisper is built from whisper.cpp's official
#    repository at $WHISPER_TAG and a missing model is downloaded from its
#    official host and checked against the published SHA-1. ENGINE=none
#    runs the demo without transcription.
# 3. Builds $BIN (default bin/earshot), starts `earshot run` on a data dir of
#    its own, sends the example calls and prints the URL and login.
#
# The data dir is disposable: by default a new temporary directory, removed
# when the demo ends. DATA=DIR keeps it instead; DIR must not exist or be
# empty. The demo never deletes anything it did not create in this run, and
# refuses to start (exit 2, with the reason) when its ports or DATA are in use.
#
# scripts/demo.sh --check reports what it found, builds (links) bin/earshot
# with it and stops there.
set -euo pipefail
cd "$(dirname "$0")/.."

WHISPER_TAG=v1.9.3
WHISPER_REPO=https://github.com/ggml-org/whisper.cpp
MODEL_HOST=https://huggingface.co/ggerganov/whisper.cpp/resolve/main
TP=third_party
BIN=${BIN:-bin/earshot}
HTTP=${HTTP:-127.0.0.1:8080}
RTP=${RTP:-127.0.0.1:40000}
NATS_LISTEN=${NATS_LISTEN:-127.0.0.1:4222}

say() { printf 'demo: %s\n' "$*" >&2; }

lang=${DEMO_LANG:-}
if [ -z "$lang" ] && [ "${LANG:-}" = ko ]; then
	lang=ko
fi
# The SHA-1s are the ones whisper.cpp publishes in models/README.md.
case "${lang:-en}" in
en)
	CALLS=examples/calls SEND_SECONDS=56 ASR_LANGUAGE=
	MODEL_NAME=ggml-base.en.bin MODEL_SHA1=137c40403d78fd54d454da0f9bd998f78703390c
	;;
ko)
	CALLS=examples/calls-ko SEND_SECONDS=48 ASR_LANGUAGE=ko
	MODEL_NAME=ggml-base.bin MODEL_SHA1=465707469ff3a37a2b9b8d8f89f2f99de7299dac
	;;
*)
	say "DEMO_LANG=$lang: want en or ko"
	exit 2
	;;
esac
MODEL_URL=$MODEL_HOST/$MODEL_NAME

# online: whisper.cpp's repository answers (EARSHOT_OFFLINE=1 says no).
online() {
	[ -z "${EARSHOT_OFFLINE:-}" ] &&
		timeout 15 git ls-remote --exit-code --tags "$WHISPER_REPO" "$WHISPER_TAG" >/dev/null 2>&1
}

# find_whisper sets whisper_at and the build's tags and cgo flags, as the
# Makefile does: whisper.pc gives the directories (-tags whisper), else the
# libraries are named (-tags whisper,whisper_nopkgconfig); shared and static
# (BUILD_SHARED_LIBS=OFF) builds both link.
whisper_at="" whisper_tags=whisper
whisper_libs="-lwhisper -lggml -lggml-cpu -lggml-base -lgomp -lstdc++ -lm"
find_whisper() {
	local dir
	for dir in "${WHISPER_DIR:-}" "$PWD/$TP/whisper"; do
		if [ -n "$dir" ] && [ -f "$dir/include/whisper.h" ]; then
			local lib=$dir/lib
			[ -d "$dir/lib64" ] && lib=$dir/lib64
			export CGO_CFLAGS="-I$dir/include" CGO_LDFLAGS="-L$lib -Wl,-rpath,$lib"
			if [ -f "$lib/pkgconfig/whisper.pc" ]; then
				export PKG_CONFIG_PATH="$lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
			else
				whisper_tags=whisper,whisper_nopkgconfig
			fi
			whisper_at=$dir
			return 0
		fi
	done
	if pkg-config --exists whisper 2>/dev/null; then
		export CGO_LDFLAGS="-Wl,-rpath,$(pkg-config --variable=libdir whisper)"
		whisper_at="pkg-config ($(pkg-config --variable=prefix whisper))"
		return 0
	fi
	# shellcheck disable=SC2086 # the libraries are separate words
	if printf '#include <whisper.h>\nint main(void){return 0;}\n' |
		"${CC:-cc}" -x c - $whisper_libs -o /dev/null >/dev/null 2>&1; then
		whisper_tags=whisper,whisper_nopkgconfig
		whisper_at="the compiler's default paths"
		return 0
	fi
	return 1
}

build_whisper() {
	if ! command -v cmake >/dev/null || ! command -v c++ >/dev/null; then
		say "building whisper.cpp needs cmake and a C++ compiler (apt-get install cmake g++)"
		return 1
	fi
	say "building whisper.cpp $WHISPER_TAG into $TP/whisper (a few minutes)"
	rm -rf "$TP/whisper.cpp" # the demo's own clone, made again in this run
	git clone --quiet --depth 1 --branch "$WHISPER_TAG" "$WHISPER_REPO" "$TP/whisper.cpp"
	cmake -S "$TP/whisper.cpp" -B "$TP/whisper.cpp/build" -DCMAKE_BUILD_TYPE=Release \
		-DWHISPER_BUILD_EXAMPLES=OFF -DWHISPER_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX="$PWD/$TP/whisper" >/dev/null
	cmake --build "$TP/whisper.cpp/build" -j "$(nproc)" >/dev/null
	cmake --install "$TP/whisper.cpp/build" >/dev/null
}

model=""
find_model() {
	local m
	for m in "${WHISPER_MODEL:-}" "$TP/models/$MODEL_NAME"; do
		if [ -n "$m" ] && [ -f "$m" ]; then
			model=$m
			return 0
		fi
	done
	return 1
}

get_model() {
	mkdir -p "$TP/models"
	say "downloading $MODEL_NAME (142 MiB)"
	local part=$TP/models/$MODEL_NAME.part
	curl -fL --progress-bar -o "$part" "$MODEL_URL"
	if ! echo "$MODEL_SHA1  $part" | sha1sum -c --status -; then
		rm -f "$part"
		say "$MODEL_NAME: SHA-1 is not the published $MODEL_SHA1; not used"
		return 1
	fi
	mv "$part" "$TP/models/$MODEL_NAME"
}

check=""
[ "${1:-}" = "--check" ] && check=1

engine=() tags=()
if [ -n "${ASR_URL:-}" ]; then
	engine=(--engine http --asr-url "$ASR_URL")
	say "transcription: the OpenAI-compatible server at $ASR_URL"
elif [ "${ENGINE:-}" = none ]; then
	engine=(--engine none)
	say "transcription: none (ENGINE=none): calls, timelines and characteristics, no text"
else
	if ! find_whisper && [ -z "$check" ] && online; then
		build_whisper && find_whisper || true
	fi
	if ! find_model && [ -z "$check" ] && online; then
		get_model && find_model || true
	fi
	if [ "$lang" = ko ] && [ -n "$model" ]; then
		case "$(basename "$model")" in
		*.en.bin | *.en-*.bin)
			say "$model is an English-only model; the Korean demo needs a multilingual one ($MODEL_NAME)"
			exit 2
			;;
		esac
	fi
	if [ -n "$whisper_at" ] && [ -n "$model" ]; then
		engine=(--engine whisper --model "$model")
		tags=(-tags "$whisper_tags")
		say "transcription: whisper.cpp from $whisper_at, model $model"
	else
		say "no transcription engine:"
		[ -n "$whisper_at" ] || say "  - libwhisper not found (pkg-config whisper, WHISPER_DIR=DIR with include/ and lib/, or the default paths)"
		[ -n "$model" ] || say "  - no whisper model (WHISPER_MODEL=PATH to a ggml model such as $MODEL_NAME)"
		say "this machine could not get them itself (offline, or without cmake and a C++ compiler); supply them as above,"
		say "or point ASR_URL at an OpenAI-compatible transcription server (make run ASR_URL=http://host:port),"
		say "or run without transcription: make run ENGINE=none"
		exit 2
	fi
fi
[ -n "$ASR_LANGUAGE" ] && engine+=(--asr-language "$ASR_LANGUAGE" --capture-language "$ASR_LANGUAGE")
if [ -n "$check" ]; then
	go build "${tags[@]}" -o "$BIN" ./cmd/earshot
	say "$BIN built and linked: $("$BIN" version | tail -1)"
	exit 0
fi

# The data dir: the demo's own, never one that holds something already.
# made_data: removed when the demo ends; made_dir: made in this run, removed
# if earshot does not start.
made_data="" made_dir=""
if [ -n "${DATA:-}" ]; then
	if [ -e "$DATA" ] && { [ ! -d "$DATA" ] || [ -n "$(ls -A "$DATA")" ]; }; then
		say "DATA=$DATA is in use (it exists and is not an empty directory); the demo starts on a fresh one"
		say "and deletes nothing it did not create: name a new DATA, or leave DATA unset for a temporary one"
		exit 2
	fi
	[ -e "$DATA" ] || made_dir=1
	mkdir -p "$DATA"
else
	DATA=$(mktemp -d "${TMPDIR:-/tmp}/earshot-demo.XXXXXX")
	made_data=1
fi

pid="" sender="" login=""
cleanup() {
	if [ -n "$sender" ]; then
		kill "$sender" 2>/dev/null || true
	fi
	if [ -n "$pid" ]; then
		kill -INT "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	# Made in this run: by mktemp, or as DATA by a demo that never served.
	if [ -n "$made_data" ] || { [ -n "$made_dir" ] && [ -z "$login" ]; }; then
		rm -rf "$DATA"
	fi
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build "${tags[@]}" -o "$BIN" ./cmd/earshot
cp examples/rules.yaml "$DATA/rules.yaml" # the rules page rewrites the file it is given
if [ -n "$made_data" ]; then
	say "starting earshot on a temporary data dir, removed when the demo ends (DATA=DIR keeps one)"
else
	say "starting earshot (data and log: $DATA)"
fi
"$BIN" run --data "$DATA" --http "$HTTP" --rtp "$RTP" --nats-listen "$NATS_LISTEN" \
	--rules "$DATA/rules.yaml" "${engine[@]}" >"$DATA/earshot.out" 2>"$DATA/earshot.log" &
pid=$! started=$SECONDS
# Ready when this process prints its login: earshot prints it once it
# serves, on a data dir without users, which the demo's always is. Whatever
# else may answer on the port is not asked.
while [ -z "$login" ]; do
	if ! kill -0 "$pid" 2>/dev/null; then
		code=0
		wait "$pid" || code=$?
		pid=""
		say "earshot did not start (exit $code):"
		grep -v '^time=' "$DATA/earshot.log" >&2 || tail -n 5 "$DATA/earshot.log" >&2
		[ "$code" -eq 2 ] && exit 2
		exit 1
	fi
	login=$(grep -o 'log in at .*' "$DATA/earshot.out" || true)
	if [ -z "$login" ] && [ "$SECONDS" -gt "$((started + 150))" ]; then
		say "earshot has not served within 150 s; its log:"
		tail -n 20 "$DATA/earshot.log" >&2
		exit 1
	fi
	[ -n "$login" ] || sleep 0.2
done
url=${login#log in at }
url=${url%% *}
"$BIN" send --calls "$CALLS" --to "$RTP" --announce "nats://$NATS_LISTEN" >/dev/null 2>"$DATA/send.log" &
sender=$!
echo
echo "Earshot is running: open $url"
echo "$login"
echo "Search its calls: $BIN search --data $DATA QUERY (or the web view's search page)"
echo "The example calls are being sent now (about $SEND_SECONDS s); Ctrl-C stops the demo."
wait "$pid"
