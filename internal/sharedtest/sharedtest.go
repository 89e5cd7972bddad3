// Package sharedtest finds the project's outside test material (real
// captures, speech, sentiment ratings, whisper.cpp models) in ../shared, or
// where EARSHOT_SHARED points, for tests; a test that needs a missing file
// is skipped with a message that says what is missing.
package sharedtest

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the shared directory, or "" when there is none.
func Dir() string {
	if d := os.Getenv("EARSHOT_SHARED"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(d), "shared")
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// Path returns the path of rel (e.g. "data/pcaps/sipp/g711a.pcap") in the
// shared directory, or skips the test when it is not there.
func Path(t testing.TB, rel string) string {
	t.Helper()
	dir := Dir()
	if dir == "" {
		t.Skip("shared test material not found: set EARSHOT_SHARED or put it at ../shared beside the repository")
	}
	p := filepath.Join(dir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test material %s is absent (%v); set EARSHOT_SHARED or put ../shared beside the repository", p, err)
	}
	return p
}
