package whisper

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/earshot-dev/earshot/internal/sharedtest"
)

func TestCheckModel(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct{ path, want string }{
		{"", "no model given"},
		{filepath.Join(dir, "ggml-base.en.bin"), "does not exist"},
		{dir, "is a directory"},
		{write("lfs.bin", "version https://git-lfs.github.com/spec/v1\noid sha256:abc\n"), "Git LFS pointer"},
		{write("model.gguf", "GGUF\x03\x00\x00\x00"), "GGUF"},
		{write("model.pt", "PK\x03\x04"), "PyTorch"},
		{write("notes.txt", "hello"), `not a whisper.cpp ggml model (it starts "hell"`},
		{write("empty.bin", ""), "not a whisper.cpp ggml model"},
		{write("short.bin", "lmgg\x00\x01"), "truncated"},
		{write("vad-as-model.bin", "lmgg"+strings.Repeat("\x0a\x00\x00\x00", 11)), "not a whisper model's header"},
	} {
		err := CheckModel(tc.path)
		if !errors.Is(err, ErrModel) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
			t.Errorf("CheckModel(%q) = %v; want ErrModel naming the path and %q", tc.path, err, tc.want)
		}
	}
	if err := CheckModel(sharedtest.Path(t, "models/for-tests-ggml-tiny.en.bin")); err != nil {
		t.Errorf("the for-tests model: %v", err)
	}
	silero := sharedtest.Path(t, "models/ggml-silero-v6.2.0.bin")
	if err := checkVAD(silero); err != nil {
		t.Errorf("the Silero model: %v", err)
	}
	if err := CheckModel(silero); !errors.Is(err, ErrModel) {
		t.Errorf("the Silero model as a speech model: %v", err)
	}
}

func TestModelName(t *testing.T) {
	if got := modelName("/m/ggml-base.en-q5_1.bin"); got != "base.en-q5_1" {
		t.Errorf("modelName = %q", got)
	}
}

func TestAudioCtxFit(t *testing.T) {
	c := Config{AudioCtx: AudioCtxFit}
	for _, tc := range [][2]int{{16000, 128}, {4 * 16000, 256}, {10 * 16000, 576}, {30 * 16000, 1500}} {
		if got := c.audioCtxFor(tc[0]); got != tc[1] {
			t.Errorf("audio ctx for %d samples = %d, want %d", tc[0], got, tc[1])
		}
	}
	if got := (&Config{AudioCtx: 768}).audioCtxFor(16000); got != 768 {
		t.Errorf("fixed audio ctx = %d", got)
	}
}

func FuzzCheckHead(f *testing.F) {
	f.Add([]byte("lmgg\x00\x01"), true)
	f.Add([]byte("GGUF\x03\x00\x00\x00"), true)
	f.Fuzz(func(t *testing.T, head []byte, speech bool) {
		err := checkHead("m.bin", head, speech)
		if err != nil && (!errors.Is(err, ErrModel) || !strings.Contains(err.Error(), "m.bin")) {
			t.Fatalf("error %v: not ErrModel naming the file", err)
		}
		if err == nil && !strings.HasPrefix(string(head), "lmgg") {
			t.Fatalf("accepted %q", head)
		}
	})
}
