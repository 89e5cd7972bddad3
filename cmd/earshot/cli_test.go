package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/earshot-dev/earshot/internal/sharedtest"
)

func cliRun(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, stdio{strings.NewReader(""), &out, &errb})
	return code, out.String(), errb.String()
}

// flagLine is a flag's first line in -h: "  -name VALUE".
var flagLine = regexp.MustCompile(`(?m)^  -(\S+)(?: (.+))?$`)

// TestFlagHelpValueNames: in every command's -h, a flag's value is named
// by one word. The flag package takes back-quoted text in a usage string
// for the value's name: "-engine earshot asr" is what that looked like.
func TestFlagHelpValueNames(t *testing.T) {
	var cmdLines [][]string
	for name := range commands() {
		if name == "rules" {
			cmdLines = append(cmdLines, []string{"rules", "check", "-h"}, []string{"rules", "dryrun", "-h"})
			continue
		}
		cmdLines = append(cmdLines, []string{name, "-h"})
	}
	slices.SortFunc(cmdLines, slices.Compare)
	flags := 0
	for _, args := range cmdLines {
		code, _, errs := cliRun(args...)
		if code != 0 {
			t.Errorf("%v: exit %d, want 0\n%s", args, code, errs)
			continue
		}
		for _, f := range flagLine.FindAllStringSubmatch(errs, -1) {
			flags++
			if strings.Contains(f[2], " ") {
				t.Errorf("earshot %s: flag -%s shows its value as %q (back quotes in its usage?)", strings.Join(args, " "), f[1], f[2])
			}
		}
	}
	if flags < 50 {
		t.Fatalf("read %d flags from the commands' help; the help's format changed?", flags)
	}
}

func TestVersionCommand(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, errs := cliRun(args...)
		if code != 0 || !strings.HasPrefix(out, "earshot ") || !strings.Contains(out, runtime.Version()) || !strings.Contains(out, "whisper engine: ") {
			t.Fatalf("%v: exit %d\nstdout %s\nstderr %s", args, code, out, errs)
		}
	}
	if code, _, errs := cliRun("version", "now"); code != 2 || !strings.Contains(errs, "no arguments") {
		t.Fatalf("version now: exit %d, %s", code, errs)
	}
	if _, _, errs := cliRun("-h"); !strings.Contains(errs, "\n  version ") {
		t.Fatalf("earshot -h does not list version:\n%s", errs)
	}
}

// TestNoEngineAdvice: only earshot run can run without transcription, so
// only it is told about --engine none.
func TestNoEngineAdvice(t *testing.T) {
	code, _, errs := cliRun("transcribe", "call.wav")
	if code != 2 || !strings.Contains(errs, "no transcription engine") || strings.Contains(errs, "engine none") {
		t.Fatalf("transcribe without an engine: exit %d, %s", code, errs)
	}
	code, _, errs = cliRun("transcribe", "--engine", "none", "call.wav")
	if code != 2 || !strings.Contains(errs, "pick --engine whisper or --engine http") {
		t.Fatalf("transcribe --engine none: exit %d, %s", code, errs)
	}
	if h := noEngineHelp(true); !strings.Contains(h, "--engine none runs without transcription") {
		t.Fatalf("earshot run's advice lacks --engine none: %s", h)
	}
}

// TestSearchDemoStore: the README's search of the demo's calls names the
// directory scripts/demo.sh keeps them in, and a search of the default
// store, when only the demo's exists, says where the demo's calls are.
func TestSearchDemoStore(t *testing.T) {
	demo, err := os.ReadFile("../../scripts/demo.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^echo ".*\$BIN search --data \$DATA `).Match(demo) {
		t.Fatalf("scripts/demo.sh does not print the search command for its data dir")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"make run DATA=" + demoDataDir, "earshot search --data " + demoDataDir + " ", "earshot rules dryrun RULES.yaml --data " + demoDataDir} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("README.md lacks %q", want)
		}
	}

	storeNoLeaks(t)
	dir, s := storeTestData(t)
	s.Close()
	t.Chdir(t.TempDir())
	if err := os.MkdirAll(filepath.Dir(demoDataDir), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir, demoDataDir); err != nil {
		t.Fatal(err)
	}
	code, _, errs := cliRun("search", "refund")
	if code != 2 || !strings.Contains(errs, "no store at earshot-data/earshot.db") || !strings.Contains(errs, "the demo (make run) keeps its calls in earshot-data/demo: --data earshot-data/demo") {
		t.Fatalf("search of the default store: exit %d, %s", code, errs)
	}
	code, out, errs := cliRun("search", "--data", demoDataDir, "refund")
	if code != 0 || !strings.Contains(out, "2 calls match") {
		t.Fatalf("search --data %s: exit %d, %s %s", demoDataDir, code, out, errs)
	}
}

// TestReplayReportsWhatCaptureRefuses: replayed to one port without
// announces, a capture with more streams than the port takes does not end
// in success, and a relay's second copy of each stream is left out.
func TestReplayReportsWhatCaptureRefuses(t *testing.T) {
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	file := sharedtest.Path(t, "data/pcaps/SIP_CALL_RTP_G711.pcap")
	code, out, errs := cliRun("replay", file, "--to", sink.LocalAddr().String(), "--speed", "max")
	if code != 1 || !strings.Contains(out, "2 streams seen again at a second hop (a relay's capture) left out") ||
		!strings.Contains(out, "replayed call (no SIP)") || !strings.Contains(out, "refused by capture (no room for a new stream)") ||
		!strings.Contains(errs, "capture refuses 1 of the 3 streams") || !strings.Contains(errs, "--to HOST:PORT1-PORT2, 2 ports") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
}
