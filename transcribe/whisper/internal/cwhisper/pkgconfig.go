//go:build whisper && !whisper_nopkgconfig

package cwhisper

// whisper.pc gives libwhisper's directories, as for the engine (see
// transcribe/whisper/pkgconfig.go).

// #cgo pkg-config: whisper
import "C"
