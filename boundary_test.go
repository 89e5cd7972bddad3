// Package earshot_test holds the tests that keep the module's shape: stages
// never import each other, and the shared message package imports nothing of ours.
package earshot_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/earshot-dev/earshot"

// stagePackages are the pipeline stages; none may import another.
var stagePackages = []string{"capture", "transcribe", "sentiment", "rules", "evaluate", "store", "ui"}

// shared lists, for each shared package, the only earshot packages it may import.
var shared = map[string][]string{
	"msg":    nil,
	"bus":    {"msg"},
	"redact": {"hangul"},
	"hangul": nil,
	"record": {"msg"},
}

func deps(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps=false", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		pkg := strings.TrimPrefix(f[0], module+"/")
		for _, d := range f[1:] {
			if strings.HasPrefix(d, module+"/") {
				m[pkg] = append(m[pkg], strings.TrimPrefix(d, module+"/"))
			}
		}
		if _, ok := m[pkg]; !ok {
			m[pkg] = nil
		}
	}
	return m
}

// within reports whether pkg is top or below it.
func within(pkg, top string) bool { return pkg == top || strings.HasPrefix(pkg, top+"/") }

func TestStagesDoNotImportEachOther(t *testing.T) {
	for pkg, ds := range deps(t) {
		for _, stage := range stagePackages {
			if !within(pkg, stage) {
				continue
			}
			for _, d := range ds {
				for _, other := range stagePackages {
					if other != stage && within(d, other) {
						t.Errorf("stage %s imports stage %s (through %s)", pkg, other, d)
					}
				}
			}
		}
	}
}

func TestSharedPackagesStaySmall(t *testing.T) {
	all := deps(t)
	for pkg, allowed := range shared {
		for _, d := range all[pkg] {
			ok := false
			for _, a := range allowed {
				ok = ok || within(d, a)
			}
			if !ok {
				t.Errorf("shared package %s imports %s; it may import only %v", pkg, d, allowed)
			}
		}
	}
}
