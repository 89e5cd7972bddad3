package siprec

import (
	"bytes"
	"errors"
	"net"

	"github.com/earshot-dev/earshot/msg"
	"github.com/emiago/sipgo/sip"
)

// countingListener hands the SIP stack TCP (or TLS) connections whose
// reads are also run through a stream parser of the server's, so that
// what the stack cannot parse on a stream (it closes that connection,
// quietly) is counted, reason "malformed", as a UDP datagram is by the
// read filter.
type countingListener struct {
	net.Listener
	s *Server
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, s: l.s, from: c.RemoteAddr().String()}, nil
}

// countingConn is one connection of a countingListener. Only the stack's
// reader of the connection calls Read.
type countingConn struct {
	net.Conn
	s    *Server
	from string
	par  *sip.ParserStream
	done bool // a parse failed (counted) or the connection ended
}

// Read reads for the stack and parses what it read as the stack does:
// the stack reads as much as one Read gives, so both see the same chunks.
func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && !c.done {
		if perr := c.check(b[:n]); perr != nil {
			c.done = true
			c.s.cap.RefuseIntake(msg.IntakeSIPREC, "malformed", c.from, "sip: "+perr.Error())
		}
	}
	if err != nil && c.par != nil {
		c.par.Close()
		c.par = nil
		c.done = true
	}
	return n, err
}

// check parses one chunk of the stream; an error is a framing or message
// error after which the stack closes the connection. Chunks the stack
// skips (NUL padding, an RFC 5626 CRLF keep-alive between messages) are
// skipped.
func (c *countingConn) check(data []byte) error {
	if len(bytes.Trim(data, "\x00")) == 0 {
		return nil
	}
	if c.par == nil {
		c.par = c.s.parser.NewSIPStream()
	}
	if len(data) <= 4 && c.par.Buffer().Len() == 0 && len(bytes.Trim(data, "\r\n")) == 0 {
		return nil
	}
	err := c.par.ParseSIPStream(data, func(sip.Message) {})
	if errors.Is(err, sip.ErrParseSipPartial) {
		return nil
	}
	return err
}
