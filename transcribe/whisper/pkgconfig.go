//go:build whisper && !whisper_nopkgconfig

package whisper

// whisper.pc gives the include and library directories of libwhisper.
// Without it (libwhisper in the compiler's default paths, or in
// CGO_CFLAGS/CGO_LDFLAGS), build with -tags whisper,whisper_nopkgconfig.
// whisper.pc's own library list is not enough for a static libwhisper
// (ggml-cpu and OpenMP are missing, and the order is wrong for archives), so
// engine.go names the libraries; the list here only repeats them.

// #cgo pkg-config: whisper
import "C"
