package siprec_test

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/earshot-dev/earshot/capture/siprec"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMetadataMapsStreamsToParticipants(t *testing.T) {
	m, err := siprec.ParseMetadata(read(t, "metadata.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.SessionID, "ab30317f") || len(m.Participants) != 2 {
		t.Fatalf("metadata %+v", m)
	}
	if p := m.StreamOf("2"); p == nil || p.AoR != "sip:1042@pbx.example.com" || p.Name != "Bob Agent" {
		t.Errorf("label 2 is sent by %+v, want Bob Agent", p)
	}
	if p := m.StreamOf("1"); p == nil || p.ID != "p-customer" {
		t.Errorf("label 1 is sent by %+v, want p-customer", p)
	}
	if m.StreamOf("3") != nil {
		t.Error("label 3 has a participant")
	}
	if m.Extensions["queue"] != "payments" {
		t.Errorf("extensions %v, want queue payments", m.Extensions)
	}
}

func TestMetadataRefusedWithAReason(t *testing.T) {
	for name, b := range map[string]string{
		"not xml":        "hello",
		"wrong ns":       `<recording xmlns="urn:x"/>`,
		"no participant": `<recording xmlns="urn:ietf:params:xml:ns:recording:1"><participantstreamassoc participant_id="x"/></recording>`,
		"no stream_id":   `<recording xmlns="urn:ietf:params:xml:ns:recording:1"><stream><label>1</label></stream></recording>`,
	} {
		if _, err := siprec.ParseMetadata([]byte(b)); !errors.Is(err, siprec.ErrMetadata) {
			t.Errorf("%s: %v, want ErrMetadata", name, err)
		}
	}
}

func TestOfferAndAnswer(t *testing.T) {
	o, err := siprec.ParseOffer(read(t, "offer.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Streams) != 2 || o.Streams[0].Codec != "PCMU" || o.Streams[0].EventPT != 101 || o.Streams[1].Codec != "PCMA" || o.Streams[1].Label != "2" || o.Held() {
		t.Fatalf("offer %+v", o)
	}
	a := string(siprec.Answer(o, netip.MustParseAddr("127.0.0.1"), []int{30000, 30002}, 7))
	for _, want := range []string{"m=audio 30000 RTP/AVP 0 101\r\n", "a=rtpmap:101 telephone-event/8000", "m=audio 30002 RTP/AVP 8\r\n", "a=label:2", "a=recvonly", "c=IN IP4 127.0.0.1"} {
		if !strings.Contains(a, want) {
			t.Errorf("answer lacks %q:\n%s", want, a)
		}
	}
	held, err := siprec.ParseOffer([]byte(strings.ReplaceAll(string(read(t, "offer.sdp")), "sendonly", "inactive")))
	if err != nil || !held.Held() {
		t.Errorf("an inactive offer: %v, held %v", err, held != nil && held.Held())
	}
	_, err = siprec.ParseOffer([]byte("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"))
	if !errors.Is(err, siprec.ErrCodec) || !strings.Contains(err.Error(), "G729") {
		t.Errorf("a G.729 offer: %v, want ErrCodec naming G729", err)
	}
	if _, err := siprec.ParseOffer([]byte("m=audio")); !errors.Is(err, siprec.ErrSDP) {
		t.Errorf("garbage: %v, want ErrSDP", err)
	}
}

func TestSplitBody(t *testing.T) {
	s, m, err := siprec.SplitBody("multipart/mixed;boundary=b1", read(t, "invite-body.txt"))
	if err != nil || !strings.HasPrefix(string(s), "v=0") || !strings.Contains(string(m), "<recording") {
		t.Fatalf("sdp %q metadata %q: %v", s, m, err)
	}
	if _, _, err := siprec.SplitBody("text/plain", []byte("x")); !errors.Is(err, siprec.ErrBody) {
		t.Errorf("text/plain: %v, want ErrBody", err)
	}
}

func TestCallID(t *testing.T) {
	if got := siprec.CallID("a84b4c76e66710@pc33.atlanta.com"); got != "a84b4c76e66710@pc33-atlanta-com" {
		t.Errorf("CallID: %q", got)
	}
}

func TestParsePorts(t *testing.T) {
	if got, err := siprec.ParsePorts("16384-32767"); err != nil || got != [2]uint16{16384, 32767} {
		t.Errorf("16384-32767: %v, %v", got, err)
	}
	for _, bad := range []string{"", "16384", "0-100", "20000-20003", "30000-20000", "1-70000", "a-b"} {
		if _, err := siprec.ParsePorts(bad); err == nil || !strings.Contains(err.Error(), "media ports") {
			t.Errorf("%q: %v, want an error naming the media ports", bad, err)
		}
	}
}
