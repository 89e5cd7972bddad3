//go:build !whisper

package whisper

import (
	"errors"
	"strings"
	"testing"

	"github.com/earshot-dev/earshot/internal/sharedtest"
)

func TestNewWithoutTheTag(t *testing.T) {
	_, err := New(Config{ModelPath: sharedtest.Path(t, "models/for-tests-ggml-tiny.en.bin")})
	if !errors.Is(err, ErrNotBuilt) || !strings.Contains(err.Error(), "-tags whisper") || !strings.Contains(err.Error(), "--engine http") {
		t.Fatalf("New in an untagged build = %v", err)
	}
	if _, err := New(Config{ModelPath: "/nonexistent/ggml-base.en.bin"}); !errors.Is(err, ErrModel) {
		t.Fatalf("a missing model is reported first: %v", err)
	}
}
