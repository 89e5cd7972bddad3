package ui

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// placeholders are the {name}s of a message, in all its forms, sorted.
func placeholders(m any) []string {
	var texts []string
	switch m := m.(type) {
	case string:
		texts = append(texts, m)
	case map[string]any:
		for _, v := range m {
			s, _ := v.(string)
			texts = append(texts, s)
		}
	}
	set := map[string]bool{}
	for _, s := range texts {
		for _, x := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(s, -1) {
			set[x[1]] = true
		}
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestCatalogues checks that every message exists in every language with
// the same placeholders, that every key the pages, scripts and handlers use
// is in the catalogues, and that every message is used.
func TestCatalogues(t *testing.T) {
	cats, err := loadCatalogues(assetFS())
	if err != nil {
		t.Fatal(err)
	}
	base := cats[languages[0]]
	for _, lang := range languages {
		c := cats[lang]
		for k, v := range base {
			w, ok := c[k]
			if !ok {
				t.Errorf("%s.json: no %q", lang, k)
				continue
			}
			if s, _ := c.text(k); strings.TrimSpace(s) == "" {
				t.Errorf("%s.json: %q is empty", lang, k)
			}
			if a, b := strings.Join(placeholders(v), ","), strings.Join(placeholders(w), ","); a != b {
				t.Errorf("%s.json: %q has placeholders {%s}, %s.json has {%s}", lang, k, b, languages[0], a)
			}
		}
		for k := range c {
			if _, ok := base[k]; !ok {
				t.Errorf("%s.json: %q is not in %s.json", lang, k, languages[0])
			}
		}
	}

	// Keys in use: {{t "key"}} in pages; in scripts, t("key") and the
	// tables that name keys (ROLE_NAMES and the like); in Go, error keys.
	used := map[string]string{}
	namespaces := map[string]bool{}
	for k := range base {
		ns, _, _ := strings.Cut(k, ".")
		namespaces[ns] = true
	}
	keyish := regexp.MustCompile(`"([a-z]+\.[a-z0-9_-]+)"`)
	take := func(file, text string) {
		for _, m := range keyish.FindAllStringSubmatch(text, -1) {
			ns, rest, _ := strings.Cut(m[1], ".")
			if namespaces[ns] && rest != "html" && rest != "js" {
				used[m[1]] = file
			}
		}
	}
	static := assetFS()
	for _, pat := range []string{"*.html", "*.js"} {
		names, _ := fs.Glob(static, pat)
		for _, name := range names {
			b, err := fs.ReadFile(static, name)
			if err != nil {
				t.Fatal(err)
			}
			take(name, string(b))
		}
	}
	goFiles, _ := fs.Glob(os.DirFS("."), "*.go")
	for _, name := range goFiles {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		take(name, string(b))
	}
	if len(used) < 100 {
		t.Fatalf("found only %d keys in use: the scan is broken", len(used))
	}
	for k, file := range used {
		if _, ok := base[k]; !ok {
			t.Errorf("%s uses %q, which no catalogue has", file, k)
		}
	}
	for k := range base {
		if _, ok := used[k]; !ok {
			t.Errorf("%q is in the catalogues but nothing uses it", k)
		}
	}
}

func TestAcceptLanguage(t *testing.T) {
	for header, want := range map[string]string{
		"":                           "en",
		"ko":                         "ko",
		"ko-KR,ko;q=0.9,en-US;q=0.8": "ko",
		"en-US,en;q=0.9,ko;q=0.8":    "en",
		"fr-FR,ko;q=0.5":             "ko",
		"fr, de":                     "en",
		"en;q=0.2, ko;q=0.7":         "ko",
		"ko;q=0, en":                 "en",
		"ko;q=bad, en;q=0.1":         "en",
		"KO-kr":                      "ko",
		"*":                          "en",
	} {
		if got := acceptLanguage(header); got != want {
			t.Errorf("Accept-Language %q: %s, want %s", header, got, want)
		}
	}
}

// TestPageLanguage: a page is in the user's language, else the browser's;
// <html lang> says which, every label comes from that catalogue, and the
// catalogue the page's script reads is there.
func TestPageLanguage(t *testing.T) {
	ts := startTestServer(t, Config{})
	sue := ts.login(t, "sue")
	page := func(c *client, path, accept string) string {
		t.Helper()
		resp, body := c.do("GET", path, nil, map[string]string{"Accept-Language": accept})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return string(body)
	}
	var catOf = regexp.MustCompile(`(?s)<script type="application/json" id="i18n">(.*?)</script>`)
	check := func(html, lang, label string) {
		t.Helper()
		if !strings.Contains(html, `<html lang="`+lang+`">`) {
			t.Errorf("want <html lang=%q> in %.200s", lang, html)
		}
		if !strings.Contains(html, label) {
			t.Errorf("want %q in the %s page", label, lang)
		}
		m := catOf.FindStringSubmatch(html)
		var cat map[string]any
		if m == nil || json.Unmarshal([]byte(m[1]), &cat) != nil || cat["board.title"] != ts.catalogues[lang]["board.title"] {
			t.Errorf("the page carries no %s catalogue its script can read", lang)
		}
	}
	check(page(sue, "/", ""), "en", "<th>Interruptions</th>")
	check(page(sue, "/", "ko-KR,ko;q=0.9"), "ko", "<th>끼어들기</th>")
	check(page(ts.anonymous(t), "/login", "ko"), "ko", "로그인")

	// Her own setting wins over the browser's.
	resp, body := sue.do("PUT", "/api/ui/me/language", map[string]string{"language": "ko"}, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("set language: %d %s", resp.StatusCode, body)
	}
	check(page(sue, "/search", "en-US"), "ko", "말한 사람")
	resp, body = sue.do("PUT", "/api/ui/me/language", map[string]string{"language": "fr"}, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"err.bad_language"`) {
		t.Fatalf("language fr: %d %s, want 400 naming err.bad_language", resp.StatusCode, body)
	}
	// An admin sets it for someone else; back to the browser's.
	root := ts.login(t, "root")
	if resp, body := root.do("PUT", "/api/ui/users/sue", map[string]any{"language": ""}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("admin clears sue's language: %d %s", resp.StatusCode, body)
	}
	check(page(sue, "/search", "en-US"), "en", "Said by")
	if u, _ := ts.users.get(context.Background(), "sue"); u.Language != "" {
		t.Errorf("sue's language %q, want empty", u.Language)
	}
}

// TestErrorKeys: an error a page shows names its catalogue key.
func TestErrorKeys(t *testing.T) {
	ts := startTestServer(t, Config{})
	anon := ts.anonymous(t)
	_, body := anon.do("POST", "/api/ui/login", map[string]string{"name": "sue", "password": "wrong-password"}, nil)
	if !strings.Contains(string(body), `"key":"err.bad_credentials"`) {
		t.Errorf("bad login: %s", body)
	}
	root := ts.login(t, "root")
	_, body = root.do("POST", "/api/ui/users", map[string]string{"name": "kim", "password": "short", "role": "agent"}, nil)
	if !strings.Contains(string(body), `"key":"err.short_password"`) {
		t.Errorf("short password: %s", body)
	}
	_, body = root.do("POST", "/api/ui/users", map[string]string{"name": "sue", "password": testPassword, "role": "agent"}, nil)
	if !strings.Contains(string(body), `"key":"err.user_exists"`) {
		t.Errorf("user exists: %s", body)
	}
	if resp, body := root.do("DELETE", "/api/ui/users/admin", nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("delete the first admin: %d %s", resp.StatusCode, body)
	}
	_, body = root.do("DELETE", "/api/ui/users/root", nil, nil)
	if !strings.Contains(string(body), `"key":"err.last_admin"`) {
		t.Errorf("last admin: %s", body)
	}
}

// FuzzAcceptLanguage: any header picks a language the web view speaks, and
// Korean only when the header names it.
func FuzzAcceptLanguage(f *testing.F) {
	f.Add("ko-KR,ko;q=0.9")
	f.Fuzz(func(t *testing.T, header string) {
		got := acceptLanguage(header)
		if !supported(got) {
			t.Fatalf("Accept-Language %q: %q is not a language the web view speaks", header, got)
		}
		if got == "ko" && !strings.Contains(strings.ToLower(header), "ko") {
			t.Fatalf("Accept-Language %q: Korean, which it does not name", header)
		}
	})
}
