// Package browsertest drives a real headless Chromium for tests: it starts
// the browser, waits on page conditions and saves screenshots as test
// artifacts. A test skips where Chromium is absent, except under CI
// (CI=true), where that is a failure.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Start starts headless Chromium (CHROMIUM, or chromium on PATH) with a fresh
// profile and returns a context to drive it; it is stopped when the test ends.
func Start(t testing.TB) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if found, err := exec.LookPath(p); err == nil {
				path = found
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed (apt-get install chromium); CI needs the browser tests")
		}
		t.Skip("chromium is not installed (apt-get install chromium, or set CHROMIUM=path); skipping the browser test")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		// Without these, Chromium stalls reaching Google's hosts on a
		// closed network.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 560),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // start the browser now
		t.Fatalf("start chromium %s: %v", path, err)
	}
	return ctx
}

// ArtifactDir is where a package's screenshots go: $EARSHOT_ARTIFACTS/NAME,
// or earshot-testartifacts/NAME in the system's temporary directory, never
// the working tree.
func ArtifactDir(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("EARSHOT_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "earshot-testartifacts")
	}
	dir = filepath.Join(dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Screenshot saves the window as DIR/NAME.png and returns the PNG.
func Screenshot(t testing.TB, ctx context.Context, dir, name string) []byte {
	t.Helper()
	return save(t, ctx, dir, name, chromedp.CaptureScreenshot())
}

// FullScreenshot saves the whole page, below the fold too, as
// DIR/NAME.png and returns the PNG.
func FullScreenshot(t testing.TB, ctx context.Context, dir, name string) []byte {
	t.Helper()
	return save(t, ctx, dir, name, chromedp.FullScreenshot(100)) // 100: PNG
}

func save(t testing.TB, ctx context.Context, dir, name string, shot chromedp.Action[[]byte]) []byte {
	t.Helper()
	b, err := chromedp.Run(ctx, shot)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
	return b
}

// WaitFor waits up to timeout until the JavaScript expression is true on the
// page; on failure it saves a screenshot in dir and fails the test.
func WaitFor(t testing.TB, ctx context.Context, dir string, timeout time.Duration, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		// A navigation under way destroys the page's context, or detaches
		// it for a moment: poll again on the new page.
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil || !navigating(err) {
			break
		}
	}
	if err != nil {
		shot := strings.NewReplacer(" ", "-", "'", "").Replace(what)
		Screenshot(t, ctx, dir, "failed-"+shot)
		t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

// navigating reports whether err is the browser's answer to a script run
// on a page that is being replaced.
func navigating(err error) bool {
	for _, s := range []string{"context", "Not attached", "navigated or closed"} {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}

// Do runs steps, failing the test with what on error.
func Do(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
