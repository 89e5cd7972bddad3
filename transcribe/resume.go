package transcribe

import (
	"slices"
	"sync"
)

// resumer keeps the resampled audio of recent interim jobs, by turn part,
// so that the next interim or the final of the same part resamples only
// what is new: each 8 kHz sample is resampled about once per job rather
// than once per interim. It holds at most max bytes, dropping the least
// recently used part first; a part it dropped is resampled whole.
type resumer struct {
	rs  *Resampler
	max int64

	mu    sync.Mutex
	parts map[string]*resampled
	size  int64
	clock uint64
}

type resampled struct {
	pcm  []int16   // the job's audio
	out  []float32 // pcm resampled
	used uint64
}

func (e *resampled) bytes() int64 { return int64(2*len(e.pcm) + 4*len(e.out)) }

// resample returns the resampled pcm of job part, keeping it for the
// part's next job when keep (an interim: more of the part follows).
func (r *resumer) resample(part string, pcm []int16, keep bool) []float32 {
	prev := r.take(part)
	buf := floatBufs.Get().(*[]float32)
	defer floatBufs.Put(buf)
	samples := PCM16ToFloat((*buf)[:0], pcm)
	*buf = samples
	out := make([]float32, 0, r.rs.OutLen(len(samples)))
	from := 0
	if prev != nil && len(prev.pcm) <= len(pcm) && slices.Equal(prev.pcm, pcm[:len(prev.pcm)]) {
		from = min(r.rs.Settled(len(prev.pcm)), len(prev.out))
		out = append(out, prev.out[:from]...)
	}
	out = r.rs.ResampleFrom(out, samples, from)
	if keep && r.max > 0 {
		r.put(part, &resampled{pcm: pcm, out: out})
	}
	return out
}

// floatBufs hold a job's samples as floats while they are resampled (the
// output is the job's own): a worker takes a job's worth of audio each
// job, and these were a fifth of what the transcription stage allocated.
var floatBufs = sync.Pool{New: func() any { return new([]float32) }}

func (r *resumer) take(part string) *resampled {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.parts[part]
	if e != nil {
		delete(r.parts, part)
		r.size -= e.bytes()
	}
	return e
}

func (r *resumer) put(part string, e *resampled) {
	if e.bytes() > r.max {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.parts == nil {
		r.parts = map[string]*resampled{}
	}
	if old := r.parts[part]; old != nil {
		r.size -= old.bytes()
	}
	r.clock++
	e.used = r.clock
	r.parts[part] = e
	r.size += e.bytes()
	for r.size > r.max {
		var oldest string
		for k, v := range r.parts {
			if oldest == "" || v.used < r.parts[oldest].used {
				oldest = k
			}
		}
		r.size -= r.parts[oldest].bytes()
		delete(r.parts, oldest)
	}
}

// len is the number of parts kept.
func (r *resumer) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.parts)
}
