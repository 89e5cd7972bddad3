package scriptedasr_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/earshot-dev/earshot/internal/scriptedasr"
	"github.com/earshot-dev/earshot/internal/synthcall"
	"github.com/earshot-dev/earshot/internal/wav"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/transcribe"
	"github.com/earshot-dev/earshot/transcribe/httpasr"
)

// TestAnswersTheScriptedTurn sends each turn of a scripted call, cut from
// its rendered leg as capture cuts it, through the real http engine, and
// checks that the double answers with that turn's text.
func TestAnswersTheScriptedTurn(t *testing.T) {
	path := filepath.Join("..", "..", "examples", "calls", "angry-customer.json")
	sc, err := synthcall.LoadScript(path)
	if err != nil {
		t.Fatal(err)
	}
	legs := map[msg.Role][]int16{}
	for _, role := range []msg.Role{msg.RoleAgent, msg.RoleCustomer} {
		a, err := wav.ReadFile(synthcall.LegFile(path, role))
		if err != nil {
			t.Fatal(err)
		}
		legs[role] = a.Mono()
	}
	turns := scriptedasr.TurnsOf(sc, legs)
	if len(turns) != len(sc.Turns) {
		t.Fatalf("%d turns measured, the script has %d", len(turns), len(sc.Turns))
	}
	srv, err := scriptedasr.New(turns)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	eng, err := httpasr.New(httpasr.Config{URL: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	for i, tu := range sc.Turns {
		// The job's audio: the turn's speech with 60 ms either side, at
		// the engine's rate (each sample twice: only the length counts).
		pcm := legs[tu.Leg]
		from := int(tu.AtMS * msg.SampleRate / 1000)
		first, last := synthcall.SpeechBounds(pcm[from:min(len(pcm), from+int(turns[i].DurMS)*msg.SampleRate/1000+msg.SampleRate)])
		n := (last - first + 1) + 2*msg.SampleRate*60/1000
		samples := make([]float32, 2*n)
		res, err := eng.Transcribe(context.Background(), transcribe.Audio{Samples: samples})
		if err != nil {
			t.Fatal(err)
		}
		if res.Text != tu.Text || res.Language != "en" || len(res.Words) == 0 {
			t.Errorf("turn %d (%d ms): answered %q (%s, %d words), want %q", i, n*1000/msg.SampleRate, res.Text, res.Language, len(res.Words), tu.Text)
		}
	}
	if got := srv.Requests(); got != int64(len(sc.Turns)) {
		t.Errorf("%d requests counted, want %d", got, len(sc.Turns))
	}
	// Not a transcription request: refused, as a server refuses it.
	resp, err := http.Post(ts.URL, "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a text body: %s, want 400", resp.Status)
	}
	if _, err := scriptedasr.New(nil); err == nil {
		t.Error("New with no turns: no error")
	}
}
