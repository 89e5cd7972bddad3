package record

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/zaf/g711"
)

// Reader reads a stored recording from any offset, as http.ServeContent
// wants: a Seek costs nothing, a Read after a Seek opens the object again
// there. As PCM, it is the recording converted to a 16-bit PCM WAV.
type Reader struct {
	ctx     context.Context
	st      Store
	name    string
	modTime time.Time
	size    int64
	pcm     bool
	rec     Recording
	hdr     []byte // the PCM header

	off    int64
	cur    io.Reader
	closer io.Closer
	curOff int64
}

var _ io.ReadSeekCloser = (*Reader)(nil)

// OpenReader opens name in st; as pcm, converted to 16-bit PCM. The
// Reader keeps ctx for the reads http.ServeContent makes.
func OpenReader(ctx context.Context, st Store, name string, pcm bool) (*Reader, error) {
	rc, info, err := st.Open(ctx, name, 0)
	if err != nil {
		return nil, err
	}
	rec, err := ParseWAV(bufio.NewReader(rc))
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("record: %s: %w", name, err)
	}
	r := &Reader{ctx: ctx, st: st, name: name, modTime: info.ModTime, size: info.Size, pcm: pcm, rec: rec}
	if pcm {
		r.hdr = wavHeaderAs(wavFmtPCM, 16, rec.Frames, rec.Gaps)
		r.size = int64(len(r.hdr)) + rec.Frames*channels*2
	}
	return r, nil
}

// Size is the length of what the Reader reads.
func (r *Reader) Size() int64 { return r.size }

// ModTime is when the recording was written.
func (r *Reader) ModTime() time.Time { return r.modTime }

// Recording is the recording's header.
func (r *Reader) Recording() Recording { return r.rec }

// Seek implements io.Seeker.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	default:
		return r.off, errors.New("record: seek: bad whence")
	}
	if offset < 0 {
		return r.off, errors.New("record: seek before the start")
	}
	r.off = offset
	return offset, nil
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if r.cur == nil || r.curOff != r.off {
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	n, err := r.cur.Read(p)
	r.off += int64(n)
	r.curOff = r.off
	return n, err
}

func (r *Reader) open() error {
	r.Close()
	if !r.pcm {
		rc, _, err := r.st.Open(r.ctx, r.name, r.off)
		if err != nil {
			return err
		}
		r.cur, r.closer, r.curOff = rc, rc, r.off
		return nil
	}
	h := int64(len(r.hdr))
	k := max(0, r.off-h) // byte of the PCM data
	rc, _, err := r.st.Open(r.ctx, r.name, r.rec.DataOffset+k/2)
	if err != nil {
		return err
	}
	var cur io.Reader = &ulawToPCM{r: bufio.NewReader(rc)}
	if r.off < h {
		cur = io.MultiReader(bytes.NewReader(r.hdr[r.off:]), cur)
	} else if k%2 == 1 {
		if _, err := io.CopyN(io.Discard, cur, 1); err != nil {
			rc.Close()
			return err
		}
	}
	r.cur, r.closer, r.curOff = cur, rc, r.off
	return nil
}

// Close implements io.Closer.
func (r *Reader) Close() error {
	if r.closer != nil {
		r.closer.Close()
	}
	r.cur, r.closer = nil, nil
	return nil
}

// ulawToPCM decodes µ-law bytes to 16-bit little-endian samples.
type ulawToPCM struct {
	r    io.ByteReader
	odd  bool // the high byte of the last sample is still to come
	high byte
}

func (u *ulawToPCM) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if u.odd {
			p[n], u.odd = u.high, false
			n++
			continue
		}
		b, err := u.r.ReadByte()
		if err != nil {
			return n, err
		}
		var s [2]byte
		binary.LittleEndian.PutUint16(s[:], uint16(g711.DecodeUlawFrame(b)))
		p[n], u.high, u.odd = s[0], s[1], true
		n++
	}
	return n, nil
}
