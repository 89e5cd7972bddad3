package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// jsonLines reads lines of UTF-8 text from in (a trailing \r dropped) and
// writes fn's answer to each as one JSON line to out, for the tools that
// read text on stdin. Lines already answered are written (and flushed)
// before an error about a later line is returned: a line that is not
// valid UTF-8 or is longer than max bytes is bad input, named by its number.
func jsonLines(ctx context.Context, in io.Reader, out io.Writer, max int, fn func(line string) any) error {
	w := bufio.NewWriter(out)
	defer w.Flush()
	enc := json.NewEncoder(w)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), max)
	n := 0
	for sc.Scan() {
		n++
		if ctx.Err() != nil {
			return ctx.Err()
		}
		line := sc.Bytes()
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if !utf8.Valid(line) {
			return badInputf("stdin line %d: not valid UTF-8 text", n)
		}
		if err := enc.Encode(fn(string(line))); err != nil {
			return fmt.Errorf("stdout: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return badInputf("stdin line %d: longer than %d bytes", n+1, max)
		}
		return badInputf("stdin: %v", err)
	}
	return w.Flush()
}
