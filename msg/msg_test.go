package msg

import (
	"errors"
	"strings"
	"testing"
)

func TestMarshalRoundTrip(t *testing.T) {
	in := Segment{ID: "c1/agent/1/0", CallID: "c1", Leg: RoleAgent, Turn: 1, Text: "hello", StartMS: 10, EndMS: 900}
	b, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `{"schema":"segment","v":1,"data":`) {
		t.Fatalf("envelope = %s", b)
	}
	var out Segment
	if err := Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Text != in.Text || out.EndMS != in.EndMS || out.Leg != in.Leg {
		t.Fatalf("round trip: got %+v, want %+v", out, in)
	}
	name, v, err := SchemaOf(b)
	if err != nil || name != "segment" || v != 1 {
		t.Fatalf("SchemaOf = %q %d %v", name, v, err)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	cases := map[string]struct {
		in   string
		want error
	}{
		"not json":      {`{"schema":`, ErrMalformed},
		"other schema":  {`{"schema":"alert","v":1,"data":{}}`, ErrWrongSchema},
		"newer version": {`{"schema":"segment","v":2,"data":{}}`, ErrNewerVersion},
		"version zero":  {`{"schema":"segment","v":0,"data":{}}`, ErrMalformed},
		"no data":       {`{"schema":"segment","v":1}`, ErrMalformed},
		"wrong type":    {`{"schema":"segment","v":1,"data":{"start_ms":"x"}}`, ErrMalformed},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var s Segment
			err := Unmarshal([]byte(tc.in), &s)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Unmarshal(%s) = %v, want %v", tc.in, err, tc.want)
			}
		})
	}
}

func TestUtteranceRoundTrip(t *testing.T) {
	in := &UtteranceJob{CallID: "call-7", Leg: RoleCustomer, Turn: 3, Part: 1, StartMS: 1000, EndMS: 1002, SampleRate: SampleRate, PCM: []int16{0, 1, -1, 32767, -32768}}
	b, err := EncodeUtterance(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeUtterance(b)
	if err != nil {
		t.Fatal(err)
	}
	if out.ID() != "call-7/customer/3/1" || len(out.PCM) != len(in.PCM) {
		t.Fatalf("got %s with %d samples", out.ID(), len(out.PCM))
	}
	for i := range in.PCM {
		if out.PCM[i] != in.PCM[i] {
			t.Fatalf("sample %d = %d, want %d", i, out.PCM[i], in.PCM[i])
		}
	}
}

func TestDecodeUtteranceErrors(t *testing.T) {
	good := &UtteranceJob{CallID: "c", Leg: RoleA, SampleRate: SampleRate, PCM: []int16{1, 2}}
	frame := func(mut func(j *UtteranceJob)) []byte {
		j := *good
		mut(&j)
		b, err := EncodeUtterance(&j)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := map[string]struct {
		in   []byte
		want error
	}{
		"short":           {[]byte("ESU1"), ErrMalformed},
		"not a frame":     {[]byte("GET / HTTP/1.1\r\n"), ErrMalformed},
		"newer frame":     {append([]byte("ESU2"), frame(func(*UtteranceJob) {})[4:]...), ErrNewerVersion},
		"header too long": {[]byte("ESU1\x00\x00\xff\xff{}"), ErrMalformed},
		"odd pcm":         {append(frame(func(*UtteranceJob) {}), 0), ErrMalformed},
		"wrong rate":      {frame(func(j *UtteranceJob) { j.SampleRate = 16000 }), ErrInvalidField},
		"empty audio":     {frame(func(j *UtteranceJob) { j.PCM = nil }), ErrInvalidField},
		"bad leg":         {frame(func(j *UtteranceJob) { j.Leg = "x" }), ErrInvalidField},
		"bad call id":     {frame(func(j *UtteranceJob) { j.CallID = "a.b" }), ErrInvalidCallID},
		"too long":        {frame(func(j *UtteranceJob) { j.PCM = make([]int16, 31*SampleRate) }), ErrInvalidField},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeUtterance(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("DecodeUtterance = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestValidateCallID(t *testing.T) {
	for _, ok := range []string{"c1", "A-b_c:d@e+f", strings.Repeat("x", MaxCallIDLen)} {
		if err := ValidateCallID(ok); err != nil {
			t.Errorf("ValidateCallID(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a.b", "a b", "a*", "a>", strings.Repeat("x", MaxCallIDLen+1), "é"} {
		if err := ValidateCallID(bad); !errors.Is(err, ErrInvalidCallID) {
			t.Errorf("ValidateCallID(%q) = %v, want ErrInvalidCallID", bad, err)
		}
	}
}

func TestCallAnnounceValidate(t *testing.T) {
	cases := map[string]struct {
		a    CallAnnounce
		want string
	}{
		"ok":        {CallAnnounce{CallID: "c", Legs: []LegSpec{{Role: RoleAgent, SSRC: 1}}}, ""},
		"end":       {CallAnnounce{CallID: "c", End: true}, ""},
		"hold":      {CallAnnounce{CallID: "c", Hold: new(bool)}, ""},
		"no id":     {CallAnnounce{Legs: []LegSpec{{Role: RoleAgent, SSRC: 1}}}, "call_id"},
		"no legs":   {CallAnnounce{CallID: "c"}, "legs"},
		"bad role":  {CallAnnounce{CallID: "c", Legs: []LegSpec{{Role: "boss", SSRC: 1}}}, "legs[0].role"},
		"twice":     {CallAnnounce{CallID: "c", Legs: []LegSpec{{Role: RoleAgent, SSRC: 1}, {Role: RoleAgent, SSRC: 2}}}, "given twice"},
		"no source": {CallAnnounce{CallID: "c", Legs: []LegSpec{{Role: RoleAgent}}}, "ssrc, source or id"},
		"by id":     {CallAnnounce{CallID: "c", Legs: []LegSpec{{Role: RoleAgent, ID: "0a0b0c0d-0000-4000-8000-00000000000a"}}}, ""},
		"bad id":    {CallAnnounce{CallID: "c", Legs: []LegSpec{{Role: RoleAgent, ID: "a b"}}}, "legs[0].id"},
		"long id":   {CallAnnounce{CallID: "c", Legs: []LegSpec{{Role: RoleAgent, ID: strings.Repeat("a", MaxLegIDLen+1)}}}, "legs[0].id"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := tc.a.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestCallFromSubject(t *testing.T) {
	if c, err := CallFromSubject(SubjectScoredSegment("c9")); err != nil || c != "c9" {
		t.Fatalf("CallFromSubject = %q, %v", c, err)
	}
	if _, err := CallFromSubject("other.x.y"); err == nil {
		t.Fatal("want error for a foreign subject")
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte(`{"schema":"segment","v":1,"data":{"text":"hi"}}`))
	f.Add([]byte(`{"schema":"segment","v":9,"data":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Segment
		if err := Unmarshal(b, &s); err != nil {
			return
		}
		if _, err := Marshal(s); err != nil {
			t.Fatalf("accepted message does not marshal again: %v", err)
		}
	})
}

// FuzzAnnounce: an announce comes from a PBX or anyone on the network.
func FuzzAnnounce(f *testing.F) {
	f.Add([]byte(`{"schema":"announce","v":1,"data":{"call_id":"c1","legs":[{"role":"agent","ssrc":7}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var a CallAnnounce
		if err := Unmarshal(b, &a); err != nil {
			return
		}
		if a.Validate() != nil {
			return
		}
		if ValidateCallID(a.CallID) != nil {
			t.Fatalf("valid announce with a bad call id %q", a.CallID)
		}
		if !a.End && len(a.Legs) == 0 {
			t.Fatal("valid announce without legs")
		}
		for _, l := range a.Legs {
			if len(l.ID) > MaxLegIDLen || strings.ContainsAny(l.ID, " \t\r\n") {
				t.Fatalf("valid announce with a leg id %q", l.ID)
			}
		}
	})
}

func FuzzDecodeUtterance(f *testing.F) {
	b, _ := EncodeUtterance(&UtteranceJob{CallID: "c", Leg: RoleA, SampleRate: SampleRate, PCM: []int16{1, -2, 3}})
	f.Add(b)
	f.Add([]byte("ESU1\x00\x00\x00\x02{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := DecodeUtterance(b)
		if err != nil {
			return
		}
		again, err := EncodeUtterance(j)
		if err != nil {
			t.Fatalf("accepted job does not encode: %v", err)
		}
		if _, err := DecodeUtterance(again); err != nil {
			t.Fatalf("re-encoded job refused: %v", err)
		}
	})
}

func BenchmarkMarshalSegment(b *testing.B) {
	s := Segment{ID: "c1/agent/1/0", CallID: "c1", Leg: RoleAgent, Turn: 1, Text: "i have been on hold for an hour and this is ridiculous", StartMS: 10, EndMS: 4200,
		Words: []Word{{Text: "i", StartMS: 10, EndMS: 100, Confidence: 0.9}, {Text: "have", StartMS: 100, EndMS: 300, Confidence: 0.8}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(s); err != nil {
			b.Fatal(err)
		}
	}
}
