package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// languages the web view speaks, each with a message catalogue in
// assets/i18n/LANG.json; the first is the default.
var languages = []string{"en", "ko"}

// validLanguage reports whether lang is a language the web view speaks, or
// empty (follow the browser).
func validLanguage(lang string) bool {
	return lang == "" || supported(lang)
}

func supported(lang string) bool {
	for _, l := range languages {
		if l == lang {
			return true
		}
	}
	return false
}

// catalogue is one language's messages by key. A message is a string with
// named placeholders ({count}), or, where the words follow a number, an
// object of plural forms (Intl.PluralRules categories; "other" always).
type catalogue map[string]any

// loadCatalogues reads every language's catalogue from the assets.
func loadCatalogues(static fs.FS) (map[string]catalogue, error) {
	out := map[string]catalogue{}
	for _, lang := range languages {
		b, err := fs.ReadFile(static, "i18n/"+lang+".json")
		if err != nil {
			return nil, fmt.Errorf("ui: catalogue %s: %w", lang, err)
		}
		var c catalogue
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("ui: catalogue i18n/%s.json: %w", lang, err)
		}
		for k, v := range c {
			switch v := v.(type) {
			case string:
			case map[string]any:
				if _, ok := v["other"].(string); !ok {
					return nil, fmt.Errorf("ui: catalogue i18n/%s.json: %q: plural forms need \"other\"", lang, k)
				}
			default:
				return nil, fmt.Errorf("ui: catalogue i18n/%s.json: %q: want a string or plural forms", lang, k)
			}
		}
		out[lang] = c
	}
	return out, nil
}

// text is the message for key, its "other" form when it has plurals.
func (c catalogue) text(key string) (string, error) {
	switch v := c[key].(type) {
	case string:
		return v, nil
	case map[string]any:
		return v["other"].(string), nil
	}
	return "", fmt.Errorf("no message %q", key)
}

// pages are the HTML pages by language and file name: templates whose
// labels come from the catalogue ({{t "key"}}) and which carry the
// catalogue for the page's script.
type pages map[string]map[string]*template.Template

func loadPages(static fs.FS, cats map[string]catalogue) (pages, error) {
	names, err := fs.Glob(static, "*.html")
	if err != nil {
		return nil, err
	}
	out := pages{}
	for _, lang := range languages {
		cat := cats[lang]
		out[lang] = map[string]*template.Template{}
		for _, name := range names {
			tpl, err := template.New(name).Funcs(template.FuncMap{"t": cat.text}).ParseFS(static, name)
			if err != nil {
				return nil, fmt.Errorf("ui: page %s: %w", name, err)
			}
			out[lang][name] = tpl
		}
	}
	return out, nil
}

// pageData is what a page template is executed with.
type pageData struct {
	Lang      string
	Catalogue catalogue
}

// servePage serves the HTML page name in the language of the request.
func (s *Server) servePage(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		lang := s.language(r)
		tpl := s.pages[lang][name]
		if tpl == nil {
			writeError(w, http.StatusInternalServerError, "missing page "+name)
			return
		}
		var buf bytes.Buffer
		if err := tpl.Execute(&buf, pageData{Lang: lang, Catalogue: s.catalogues[lang]}); err != nil {
			s.log.Error("page failed", "page", name, "err", err)
			writeError(w, http.StatusInternalServerError, "page "+name+" failed")
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Language", lang)
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Add("Vary", "Accept-Language")
		_, _ = w.Write(buf.Bytes())
	}
}

// language is the language of the pages for r: the logged-in user's
// setting, else the browser's Accept-Language, else the default.
func (s *Server) language(r *http.Request) string {
	if p, ok := principalOf(r.Context()); ok && supported(p.Language) {
		return p.Language
	}
	return acceptLanguage(r.Header.Get("Accept-Language"))
}

// acceptLanguage picks the supported language the header prefers most
// (RFC 9110 section 12.5.4: a q of 0 refuses), else the default.
func acceptLanguage(header string) string {
	type pref struct {
		lang string
		q    float64
	}
	var prefs []pref
	for _, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if q > 0 && supported(primary) {
			prefs = append(prefs, pref{primary, q})
		}
	}
	if len(prefs) == 0 {
		return languages[0]
	}
	sort.SliceStable(prefs, func(i, j int) bool { return prefs[i].q > prefs[j].q })
	return prefs[0].lang
}
