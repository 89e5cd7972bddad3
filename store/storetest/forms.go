package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/store"
)

// testForms: each save of a form is its next version; the versions come
// back newest first; the version in force at a time is the newest saved
// by then, per form; saves at once each get a version of their own.
func testForms(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.FormVersions(ctx, "qa"); !errors.Is(err, msg.ErrNotFound) {
		t.Fatalf("no form yet: %v, want ErrNotFound", err)
	}
	if fs, err := s.FormsAt(ctx, t0); err != nil || len(fs) != 0 {
		t.Fatalf("no forms at t0: %v %v", fs, err)
	}
	save := func(form, text string, at time.Time) msg.SavedForm {
		t.Helper()
		f, err := s.SaveForm(ctx, msg.SavedForm{Form: form, Name: "Form " + form, Hash: "h-" + text, Text: text, SavedBy: "ann", SavedAt: at})
		must(t, err)
		return f
	}
	if v := save("qa", "one", t0).Version; v != 1 {
		t.Fatalf("first save: version %d, want 1", v)
	}
	if v := save("qa", "two", t0.Add(time.Hour)).Version; v != 2 {
		t.Fatalf("second save: version %d, want 2", v)
	}
	if v := save("sales", "s1", t0.Add(30*time.Minute)).Version; v != 1 {
		t.Fatalf("another form's first save: version %d, want 1", v)
	}
	vs, err := s.FormVersions(ctx, "qa")
	must(t, err)
	if len(vs) != 2 || vs[0].Version != 2 || vs[0].Text != "two" || vs[1].Text != "one" || vs[1].SavedBy != "ann" ||
		!vs[1].SavedAt.Equal(t0) || vs[0].Name != "Form qa" || vs[0].Hash != "h-two" {
		t.Fatalf("versions: %+v", vs)
	}
	at := func(when time.Time) []string {
		t.Helper()
		fs, err := s.FormsAt(ctx, when)
		must(t, err)
		var out []string
		for _, f := range fs {
			out = append(out, fmt.Sprintf("%s@%d", f.Form, f.Version))
		}
		return out
	}
	for _, c := range []struct {
		at   time.Time
		want []string
	}{
		{t0.Add(-time.Second), nil},
		{t0, []string{"qa@1"}},
		{t0.Add(45 * time.Minute), []string{"qa@1", "sales@1"}},
		{t0.Add(time.Hour), []string{"qa@2", "sales@1"}},
		{t0.Add(48 * time.Hour), []string{"qa@2", "sales@1"}},
	} {
		if got := at(c.at); !slices.Equal(got, c.want) {
			t.Errorf("in force at %s: %v, want %v", c.at.Format(time.TimeOnly), got, c.want)
		}
	}
	// Saves at once: every one kept, each with its own version.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.SaveForm(ctx, msg.SavedForm{Form: "busy", Name: "b", Hash: "h", Text: fmt.Sprint(i), SavedBy: "ann", SavedAt: t0})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	vs, err = s.FormVersions(ctx, "busy")
	must(t, err)
	if len(vs) != 4 || vs[0].Version != 4 || vs[3].Version != 1 {
		t.Fatalf("saves at once: %+v", vs)
	}
}

// testEndedCalls: the ended calls that started in the range, in id order,
// page by page.
func testEndedCalls(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i, id := range []string{"e3", "e1", "e2", "e4"} {
		startCall(t, s, id, "ann", "q", t0.Add(time.Duration(i)*time.Hour), nil)
		endCall(t, s, id, t0.Add(time.Duration(i)*time.Hour), time.Minute)
	}
	startCall(t, s, "open", "ann", "q", t0.Add(time.Hour), nil) // not ended
	from, to := t0, t0.Add(3*time.Hour)                         // e4 started at +3h: out
	var got []string
	after := ""
	for {
		ids, err := s.EndedCalls(ctx, from, to, after, 2)
		must(t, err)
		if len(ids) == 0 {
			break
		}
		if len(ids) > 2 {
			t.Fatalf("page of %d, limit 2", len(ids))
		}
		got = append(got, ids...)
		after = ids[len(ids)-1]
	}
	if want := []string{"e1", "e2", "e3"}; !slices.Equal(got, want) {
		t.Fatalf("ended calls: %v, want %v", got, want)
	}
}
