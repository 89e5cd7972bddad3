package record

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the object store bucket recordings live in.
const Bucket = "EARSHOT_RECORDINGS"

// ObjectStore is a Store in a NATS JetStream object store bucket, so
// recordings are replicated across a NATS cluster like the streams.
type ObjectStore struct {
	os     jetstream.ObjectStore
	js     jetstream.JetStream
	bucket string
}

var _ Store = (*ObjectStore)(nil)

// ObjectStoreConfig configures NewObjectStore.
type ObjectStoreConfig struct {
	// Bucket is the bucket's name. Default Bucket.
	Bucket string
	// Replicas is how many servers keep each recording. Default 1.
	Replicas int
	// Memory keeps the bucket in memory rather than on disk (tests).
	Memory bool
}

// NewObjectStore creates (or opens) the bucket.
func NewObjectStore(ctx context.Context, js jetstream.JetStream, cfg ObjectStoreConfig) (*ObjectStore, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = Bucket
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.Replicas < 1 || cfg.Replicas > 5 {
		return nil, fmt.Errorf("record: object store replicas %d: want 1 to 5", cfg.Replicas)
	}
	st := jetstream.FileStorage
	if cfg.Memory {
		st = jetstream.MemoryStorage
	}
	os, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: cfg.Bucket, Description: "Earshot call recordings",
		Replicas: cfg.Replicas, Storage: st,
	})
	if err != nil {
		return nil, fmt.Errorf("record: object store bucket %s: %w", cfg.Bucket, err)
	}
	return &ObjectStore{os: os, js: js, bucket: cfg.Bucket}, nil
}

func objInfo(oi *jetstream.ObjectInfo) Info {
	return Info{Name: oi.Name, Size: int64(oi.Size), ModTime: oi.ModTime}
}

func (o *ObjectStore) wrap(op, name string, err error) error {
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return fmt.Errorf("record: %s %s: %w", op, name, err)
}

// Put implements Store. The object store publishes an object's metadata
// only after its last chunk, and purges the chunks of a failed put.
func (o *ObjectStore) Put(ctx context.Context, name string, r io.Reader) (Info, error) {
	if err := CheckName(name); err != nil {
		return Info{}, err
	}
	oi, err := o.os.Put(ctx, jetstream.ObjectMeta{Name: name}, r)
	if err != nil {
		return Info{}, o.wrap("put", name, err)
	}
	return objInfo(oi), nil
}

// Open implements Store. It reads the object's chunks itself, a few at a
// time from a consumer of their subject, rather than through the object
// store's Get: Get pushes chunks from a goroutine of its own into a pipe,
// fails any read that takes over 5 s (a recording played over a slow
// link), and leaves that goroutine blocked when its context ends while it
// subscribes. The bytes before off are read and dropped.
func (o *ObjectStore) Open(ctx context.Context, name string, off int64) (io.ReadCloser, Info, error) {
	if err := CheckName(name); err != nil {
		return nil, Info{}, err
	}
	oi, err := o.os.GetInfo(ctx, name)
	if err != nil {
		return nil, Info{}, o.wrap("open", name, err)
	}
	info := objInfo(oi)
	if off < 0 || off > info.Size {
		return nil, info, fmt.Errorf("%w: %s: offset %d, size %d", ErrRange, name, off, info.Size)
	}
	digest, err := jetstream.DecodeObjectDigest(oi.Digest)
	if err != nil && oi.Size > 0 {
		return nil, info, o.wrap("open", name, err)
	}
	r := &objReader{ctx: ctx, o: o, name: name, stream: "OBJ_" + o.bucket, subject: "$O." + o.bucket + ".C." + oi.NUID,
		left: info.Size, chunks: int(oi.Chunks), sum: sha256.New(), digest: digest}
	if info.Size > 0 {
		if err := r.consume(ctx); err != nil {
			return nil, info, o.wrap("open", name, err)
		}
	}
	if _, err := io.CopyN(io.Discard, r, off); err != nil {
		r.Close()
		return nil, info, o.wrap("open", name, err)
	}
	return r, info, nil
}

// objReader reads an object's chunks from an ephemeral consumer of their
// subject and checks their digest at the end.
type objReader struct {
	ctx     context.Context
	o       *ObjectStore
	name    string
	stream  string
	subject string // of the object's chunks
	cons    jetstream.Consumer
	seq     uint64   // stream sequence of the last chunk fetched
	left    int64    // bytes not yet fetched
	chunks  int      // chunks not yet fetched
	buf     []byte   // what is left of the chunk being read
	next    [][]byte // the chunks fetched after it
	sum     hash.Hash
	digest  []byte
	err     error
}

// objFetch is how many chunks (128 KiB each by default) a read fetches at
// most at once.
const objFetch = 8

// objChunkWait is how long a fetch waits for a chunk.
const objChunkWait = 10 * time.Second

func (r *objReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	for len(r.buf) == 0 {
		if len(r.next) > 0 {
			r.buf, r.next = r.next[0], r.next[1:]
			continue
		}
		if r.err != nil {
			return 0, r.err
		}
		if r.left == 0 {
			r.err = io.EOF
			if !bytes.Equal(r.sum.Sum(nil), r.digest) {
				r.err = fmt.Errorf("record: read %s: %w", r.name, jetstream.ErrDigestMismatch)
			}
			continue
		}
		r.fetch()
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// consume makes the consumer the chunks come from: from the first chunk,
// or after the last one fetched.
func (r *objReader) consume(ctx context.Context) error {
	cfg := jetstream.ConsumerConfig{
		FilterSubject: r.subject, DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute, MemoryStorage: true, Replicas: 1,
	}
	if r.seq > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, r.seq+1
	}
	cons, err := r.o.js.CreateConsumer(ctx, r.stream, cfg)
	if err != nil {
		return err
	}
	r.cons = cons
	return nil
}

// fetch reads the next chunks into next, or sets err. A consumer that is
// gone (unused for its inactive threshold while the reader paused, or lost
// with its server) is made again after the last chunk fetched, once.
func (r *objReader) fetch() {
	ctx, cancel := context.WithTimeout(r.ctx, objChunkWait)
	defer cancel()
	if r.chunks <= 0 {
		r.err = fmt.Errorf("record: read %s: its chunks hold less than its size", r.name)
		return
	}
	for again := false; ; again = true {
		err := r.take(ctx)
		if err == nil || r.err != nil {
			return
		}
		if again || ctx.Err() != nil {
			r.err = fmt.Errorf("record: read %s: %w", r.name, err)
			return
		}
		if err := r.consume(ctx); err != nil {
			r.err = fmt.Errorf("record: read %s: %w", r.name, err)
			return
		}
	}
}

// take fetches the next chunks into next; an error says none came.
func (r *objReader) take(ctx context.Context) error {
	batch, err := r.cons.Fetch(min(r.chunks, objFetch), jetstream.FetchContext(ctx))
	if err != nil {
		return err
	}
	got := false
	for m := range batch.Messages() {
		got = true
		if md, err := m.Metadata(); err == nil {
			r.seq = md.Sequence.Stream
		}
		r.chunks--
		d := m.Data()
		if int64(len(d)) > r.left {
			r.err = fmt.Errorf("record: read %s: the chunks hold more than its size", r.name)
			return nil
		}
		r.left -= int64(len(d))
		r.sum.Write(d)
		r.next = append(r.next, d)
	}
	if err := batch.Error(); err != nil && !got {
		return err
	}
	if !got {
		return errors.New("no chunk came")
	}
	return nil
}

// Close deletes the consumer (it would lapse unused after a minute).
func (r *objReader) Close() error {
	if r.cons == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 2*time.Second)
	defer cancel()
	_ = r.o.js.DeleteConsumer(ctx, r.stream, r.cons.CachedInfo().Name)
	r.cons = nil
	return nil
}

// Stat implements Store.
func (o *ObjectStore) Stat(ctx context.Context, name string) (Info, error) {
	if err := CheckName(name); err != nil {
		return Info{}, err
	}
	oi, err := o.os.GetInfo(ctx, name)
	if err != nil {
		return Info{}, o.wrap("stat", name, err)
	}
	return objInfo(oi), nil
}

// Delete implements Store.
func (o *ObjectStore) Delete(ctx context.Context, name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if err := o.os.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return o.wrap("delete", name, err)
	}
	return nil
}

// List implements Store.
func (o *ObjectStore) List(ctx context.Context, prefix string) ([]Info, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	all, err := o.os.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("record: list %q: %w", prefix, err)
	}
	var out []Info
	for _, oi := range all {
		if !oi.Deleted && strings.HasPrefix(oi.Name, prefix) {
			out = append(out, objInfo(oi))
		}
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
