package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/earshot-dev/earshot/transcribe/whisper"
)

// version is the release this binary is, when the build sets it
// (go build -ldflags "-X main.version=v1.2.0"); otherwise the module's
// version or its commit, from the build information.
var version = ""

// versionCmd is earshot version: what this binary is and what it can do.
func versionCmd(_ context.Context, args []string, std stdio) error {
	fs := flag.NewFlagSet("earshot version", flag.ContinueOnError)
	fs.SetOutput(std.err)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInputf("version takes no arguments")
	}
	fmt.Fprintln(std.out, versionText())
	return nil
}

// versionText is the release (or commit), the Go that built it, and
// whether the whisper engine is built in.
func versionText() string {
	v, commit := version, ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value[:min(12, len(s.Value))]
			case "vcs.modified":
				if s.Value == "true" {
					commit += " (modified)"
				}
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	text := "earshot " + v
	if commit != "" {
		text += ", commit " + commit
	}
	text += fmt.Sprintf(", %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if whisper.Built {
		return text + "whisper engine: built in, libwhisper " + whisper.LibVersion()
	}
	return text + "whisper engine: not built in (build with -tags whisper; --engine http works without it)"
}
