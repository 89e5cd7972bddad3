package whisper

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Errors, for errors.Is.
var (
	// ErrNotBuilt: this binary was built without -tags whisper.
	ErrNotBuilt = errors.New("built without the whisper engine")
	// ErrModel: the model file is missing or is not a whisper.cpp ggml model.
	ErrModel = errors.New("unusable model file")
)

// InstallHelp says how to get a binary with the whisper engine.
const InstallHelp = "install libwhisper (your package manager's whisper.cpp, or in a checkout of " +
	"github.com/ggml-org/whisper.cpp: cmake -B build && cmake --build build && sudo cmake --install build) " +
	"and build earshot with -tags whisper (make build does when it finds libwhisper)"

// NotBuiltHelp says what to do in a binary without the whisper engine.
const NotBuiltHelp = "this earshot was built without the whisper engine: " + InstallHelp +
	", or use a transcription server: --engine http --asr-url URL"

// AudioCtxFit sizes the audio context to each clip.
const AudioCtxFit = -1

// audioCtxFor is the audio context for n samples at 16 kHz.
func (c *Config) audioCtxFor(n int) int {
	if c.AudioCtx != AudioCtxFit {
		return c.AudioCtx
	}
	ctx := (n*50/16000 + 50 + 63) / 64 * 64
	return min(ctx, 1500)
}

// ggmlMagic starts every whisper.cpp ggml model file ("ggml" as a
// little-endian uint32).
var ggmlMagic = []byte("lmgg")

// Config configures the engine. ModelPath is required.
type Config struct {
	// ModelPath is a whisper.cpp ggml model (ggml-base.en.bin, ggml-tiny.en-q5_1.bin, ...).
	ModelPath string
	// VADModelPath, when set, is a Silero VAD ggml model
	// (ggml-silero-v6.2.0.bin): audio without speech is not decoded.
	VADModelPath string
	// Workers is how many transcriptions may run at once, each with its own
	// state; default 1.
	Workers int
	// Threads per transcription; default 2.
	Threads int
	// AudioCtx, when positive, shrinks the encoder's audio context (1500 is
	// whisper's full 30 s window, 50 per second): faster on short
	// utterances, a little less accurate. AudioCtxFit sizes it to each clip
	// (its length plus a second, in 64 steps). 0 uses the model's.
	AudioCtx int
	// BeamSize > 1 decodes with beam search; default greedy.
	BeamSize int
	// Language is the default language ("en", "ko", "auto"); a job's own
	// language wins. Default "en" for English-only models, else "auto".
	Language string
	// Prompt is the initial prompt: a contact center's vocabulary.
	Prompt string
}

// CheckModel reports whether path is a readable whisper.cpp ggml model
// (its magic and, for a speech model, its hyper-parameters), naming the path
// and what is wrong when it is not.
func CheckModel(path string) error { return checkModel(path, true) }

// checkVAD checks a Silero VAD model: the ggml magic only.
func checkVAD(path string) error { return checkModel(path, false) }

// whisper's hyper-parameters follow the magic: n_vocab, n_audio_ctx,
// n_audio_state, n_audio_head, n_audio_layer, n_text_ctx, n_text_state,
// n_text_head, n_text_layer, n_mels, ftype (int32 each).
const hparamsLen = 11 * 4

func checkModel(path string, speech bool) error {
	if path == "" {
		return fmt.Errorf("whisper: %w: no model given (--model PATH or WHISPER_MODEL): download one, e.g. ggml-base.en.bin from https://huggingface.co/ggerganov/whisper.cpp", ErrModel)
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("whisper: %w: %s does not exist: download a model, e.g. ggml-base.en.bin from https://huggingface.co/ggerganov/whisper.cpp", ErrModel, path)
		}
		return fmt.Errorf("whisper: %w: %v", ErrModel, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return fmt.Errorf("whisper: %w: %s is a directory, not a model file", ErrModel, path)
	}
	head := make([]byte, 64)
	n, _ := io.ReadFull(f, head)
	return checkHead(path, head[:n], speech)
}

// checkHead checks the first bytes of a model file.
func checkHead(path string, head []byte, speech bool) error {
	switch {
	case bytes.HasPrefix(head, ggmlMagic) && !speech:
		return nil
	case bytes.HasPrefix(head, ggmlMagic):
		if len(head) < 4+hparamsLen {
			return fmt.Errorf("whisper: %w: %s is truncated: it ends inside its header (%d bytes)", ErrModel, path, len(head))
		}
		var hp [11]int32
		for i := range hp {
			hp[i] = int32(binary.LittleEndian.Uint32(head[4+4*i:]))
		}
		nVocab, nAudioCtx, nMels := hp[0], hp[1], hp[9]
		if nVocab < 1000 || nVocab > 1<<20 || nAudioCtx != 1500 || (nMels != 80 && nMels != 128) {
			return fmt.Errorf("whisper: %w: %s has the ggml magic but not a whisper model's header (n_vocab %d, n_audio_ctx %d, n_mels %d)", ErrModel, path, nVocab, nAudioCtx, nMels)
		}
		return nil
	case bytes.HasPrefix(head, []byte("version https://git-lfs")):
		return fmt.Errorf("whisper: %w: %s is a Git LFS pointer, not the model: fetch the file itself (git lfs pull)", ErrModel, path)
	case bytes.HasPrefix(head, []byte("GGUF")):
		return fmt.Errorf("whisper: %w: %s is a GGUF file; whisper.cpp reads ggml .bin models (ggml-*.bin)", ErrModel, path)
	case bytes.HasPrefix(head, []byte("PK")) || bytes.HasPrefix(head, []byte{0x80, 0x02}):
		return fmt.Errorf("whisper: %w: %s is a PyTorch checkpoint; convert it with whisper.cpp's models/convert-pt-to-ggml.py or download a ggml model", ErrModel, path)
	default:
		return fmt.Errorf("whisper: %w: %s is not a whisper.cpp ggml model (it starts %q, want %q)", ErrModel, path, head[:min(4, len(head))], ggmlMagic)
	}
}

// modelName is the name segments carry: the file's base name without
// "ggml-" and ".bin".
func modelName(path string) string {
	return strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "ggml-"), ".bin")
}
