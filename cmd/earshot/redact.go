package main

import (
	"context"
	"flag"
	"fmt"
	"unicode/utf8"

	"github.com/earshot-dev/earshot/redact"
)

// redactLine is what earshot redact writes for each line in.
type redactLine struct {
	Text     string         `json:"text"`
	Entities []redactEntity `json:"entities"`
}

// redactEntity is an entity found, with rune offsets into the line.
type redactEntity struct {
	Type  redact.Type `json:"type"`
	Start int         `json:"start"`
	End   int         `json:"end"`
}

// maxRedactLine bounds one input line.
const maxRedactLine = 1 << 20

const redactUsage = `usage: earshot redact [--language ko|en|auto] [--mask pii|entity] < lines.txt

Masks personal data (card numbers, CVC and expiry, account numbers, phone
numbers, national ID numbers, emails, PINs) in each line of UTF-8 text on
stdin, with the redactor the store uses, and writes one JSON line each:
  {"text": "redacted line", "entities": [{"type": "PHONE", "start": 6, "end": 19}]}
start and end are rune (Unicode code point) offsets [start, end) into the
line as read, not byte offsets. --language auto reads a line with Hangul as
Korean and any other as English.
`

func redactCmd(ctx context.Context, args []string, std stdio) error {
	fs := flag.NewFlagSet("earshot redact", flag.ContinueOnError)
	fs.SetOutput(std.err)
	lang := fs.String("language", "auto", "ko, en, or auto (a line with Hangul is Korean)")
	mask := fs.String("mask", "pii", "what replaces an entity: pii ([PII]) or entity ([PHONE], ...)")
	fs.Usage = func() {
		fmt.Fprint(std.err, redactUsage)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInputf("unexpected argument %q (the text comes on stdin)", fs.Arg(0))
	}
	l, err := redact.ParseLanguage(*lang)
	if err != nil {
		return badInputf("--language: %v", err)
	}
	m, err := redact.ParseMask(*mask)
	if err != nil {
		return badInputf("--mask: %v", err)
	}
	r, err := redact.New(redact.Config{Mask: m})
	if err != nil {
		return badInput(err)
	}
	return jsonLines(ctx, std.in, std.out, maxRedactLine, func(line string) any {
		text, ents := r.RedactLang(line, l)
		return redactLine{Text: text, Entities: runeOffsets(line, ents)}
	})
}

// runeOffsets turns entities' byte offsets into line into rune offsets.
func runeOffsets(line string, ents []redact.Entity) []redactEntity {
	out := make([]redactEntity, 0, len(ents))
	at, runes := 0, 0
	toRunes := func(b int) int {
		runes += utf8.RuneCountInString(line[at:b])
		at = b
		return runes
	}
	for _, e := range ents {
		start := toRunes(e.Start)
		out = append(out, redactEntity{Type: e.Type, Start: start, End: toRunes(e.End)})
	}
	return out
}
