package siprec_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/capturetest"
	"github.com/earshot-dev/earshot/capture/siprec"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "earshot test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// A recording session over TLS: the INVITE and BYE are answered.
func TestRecordingSessionOverTLS(t *testing.T) {
	r := capturetest.Start(t, capture.Config{})
	cert, pool := selfSigned(t)
	s, _, _ := serve(t, r, siprec.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tln := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
	background(t, func(ctx context.Context) error { return s.ServeTLS(ctx, tln) })
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-src"), sipgo.WithUserAgenTLSConfig(&tls.Config{RootCAs: pool}))
	if err != nil {
		t.Fatal(err)
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); ua.Close() })
	c := &src{t: t, tp: "TLS", to: ln.Addr().(*net.TCPAddr).AddrPort(), client: client, callID: "tls-1"}
	if res := c.do(sip.INVITE, multipart, body(t, string(read(t, "offer.sdp")), read(t, "metadata.xml"))); res.StatusCode != 200 {
		t.Fatalf("INVITE over TLS: %s", res.Short())
	}
	if s.Sessions() != 1 {
		t.Fatalf("%d sessions", s.Sessions())
	}
	if res := c.do(sip.BYE, "", nil); res.StatusCode != 200 {
		t.Fatalf("BYE over TLS: %s", res.Short())
	}
	if c := r.WaitEnded(1, 10*time.Second)["tls-1"]; c == nil {
		t.Fatal("no call tls-1")
	}
}
