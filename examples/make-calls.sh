#!/bin/sh
# make-calls.sh synthesizes the example calls: for each calls/NAME.txt it
# writes calls/NAME/agent.wav and calls/NAME/customer.wav, 8 kHz mono
# 16-bit PCM legs of equal length, ready for `earshot send`.
#
# A script line is "LEG[:MOOD] START TEXT": LEG is agent or customer, START
# the second the turn begins on the call clock, MOOD "angry" (faster, louder,
# higher). Lines starting with # are comments. Needs espeak-ng and sox.
set -eu
cd "$(dirname "$0")"
for tool in espeak-ng sox soxi; do
	command -v "$tool" >/dev/null || { echo "make-calls: $tool is missing (apt-get install espeak-ng sox)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for script in calls/*.txt; do
	name=$(basename "$script" .txt)
	mkdir -p "calls/$name"
	rm -f "$tmp"/*.wav
	n=0
	grep -v '^#' "$script" | grep -v '^[[:space:]]*$' | while read -r who start text; do
		n=$((n + 1))
		leg=${who%%:*}
		mood=${who#*:}
		case "$leg" in
		agent) voice=en-us speed=165 pitch=45 amp=100 ;;
		customer) voice=en-gb+f3 speed=155 pitch=60 amp=100 ;;
		*) echo "make-calls: $script: line $n: leg $leg (want agent or customer)" >&2; exit 2 ;;
		esac
		if [ "$mood" = angry ]; then speed=190 pitch=75 amp=150; fi
		raw="$tmp/raw.wav"
		espeak-ng -v "$voice" -s "$speed" -p "$pitch" -a "$amp" -w "$raw" "$text"
		sox -q "$raw" -r 8000 -c 1 -b 16 "$tmp/$leg-$(printf %03d "$n").wav" gain -n -3 pad "$start" 0
	done
	# Mix each leg's turns, then pad both legs to the same length.
	for leg in agent customer; do
		set -- "$tmp/$leg"-*.wav
		if [ "$#" -eq 1 ]; then cp "$1" "$tmp/$leg.wav"; else sox -q -m "$@" "$tmp/$leg.wav"; fi
	done
	la=$(soxi -D "$tmp/agent.wav")
	lc=$(soxi -D "$tmp/customer.wav")
	len=$(echo "$la $lc" | awk '{ m = $1 > $2 ? $1 : $2; print m + 1 }')
	for leg in agent customer; do
		extra=$(echo "$len $(soxi -D "$tmp/$leg.wav")" | awk '{ print $1 - $2 }')
		sox -q "$tmp/$leg.wav" -b 16 "calls/$name/$leg.wav" pad 0 "$extra"
	done
	echo "calls/$name: $(soxi -d "calls/$name/agent.wav") ($(soxi -r "calls/$name/agent.wav") Hz)"
done
