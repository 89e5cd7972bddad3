//go:build whisper

package whisper

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// whisperInstalls are the prefixes of libwhisper installs to link against:
// $EARSHOT_WHISPER_DIRS (colon-separated), else pkg-config's and /opt/whisper*.
func whisperInstalls(t *testing.T) []string {
	if dirs := os.Getenv("EARSHOT_WHISPER_DIRS"); dirs != "" {
		return filepath.SplitList(dirs)
	}
	var dirs []string
	if out, err := exec.Command("pkg-config", "--variable=prefix", "whisper").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	opt, _ := filepath.Glob("/opt/whisper*")
	return append(dirs, opt...)
}

// libDir is an install's library directory, and whether it holds a static
// libwhisper only (BUILD_SHARED_LIBS=OFF); "" if it holds no libwhisper or
// no whisper.pc.
func libDir(prefix string) (dir string, static bool) {
	for _, d := range []string{"lib", "lib64"} {
		dir := filepath.Join(prefix, d)
		if _, err := os.Stat(filepath.Join(dir, "pkgconfig", "whisper.pc")); err != nil {
			continue
		}
		_, errA := os.Stat(filepath.Join(dir, "libwhisper.a"))
		_, errSO := os.Stat(filepath.Join(dir, "libwhisper.so"))
		if errA == nil || errSO == nil {
			return dir, errSO != nil
		}
	}
	return "", false
}

// TestLinkInstalls builds a program with the engine against a static and a
// shared libwhisper, each found through its whisper.pc as make build finds
// it, and runs it. whisper.pc alone names too few libraries, in the wrong
// order, for a static libwhisper (ggml-cpu and OpenMP were undefined).
func TestLinkInstalls(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no builds")
	}
	kinds := map[bool]string{true: "static", false: "shared"}
	found := map[bool]bool{}
	for _, prefix := range whisperInstalls(t) {
		lib, static := libDir(prefix)
		if lib == "" {
			continue
		}
		found[static] = true
		name := kinds[static]
		t.Run(name+"/"+lib, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "linkcheck")
			build := exec.Command("go", "build", "-tags", "whisper", "-o", bin, "./testdata/linkcheck")
			// As the Makefile does: the rpath finds a shared libwhisper
			// at run time and gives each install its own build cache key.
			build.Env = append(os.Environ(), "PKG_CONFIG_PATH="+filepath.Join(lib, "pkgconfig"), "CGO_LDFLAGS=-O2 -g -Wl,-rpath,"+lib)
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("building against the %s libwhisper in %s: %v\n%s", name, lib, err, out)
			}
			out, err := exec.Command(bin).CombinedOutput()
			if err != nil || !strings.HasPrefix(string(out), "1.") {
				t.Fatalf("the program linked against %s: %v, printed %q; want libwhisper's version", lib, err, out)
			}
			f, err := elf.Open(bin)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			libs, err := f.ImportedLibraries()
			if err != nil {
				t.Fatal(err)
			}
			dynamic := slices.ContainsFunc(libs, func(l string) bool { return strings.HasPrefix(l, "libwhisper.so") })
			if dynamic == static {
				t.Fatalf("linked against %s, the program needs %v; want libwhisper.so %s", lib, libs, map[bool]string{true: "not needed", false: "needed"}[static])
			}
			t.Logf("%s libwhisper %s in %s links", name, strings.TrimSpace(string(out)), lib)
		})
	}
	for _, static := range []bool{true, false} {
		if !found[static] {
			t.Skipf("no %s libwhisper install with whisper.pc in %v, so that kind is not checked (EARSHOT_WHISPER_DIRS=PREFIX[:PREFIX] names installs; a static one is cmake -DBUILD_SHARED_LIBS=OFF)", kinds[static], whisperInstalls(t))
		}
	}
}
