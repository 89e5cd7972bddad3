//go:build whisper

package whisper

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/internal/sharedtest"
	"github.com/earshot-dev/earshot/transcribe"
	"github.com/earshot-dev/earshot/transcribe/whisper/internal/cwhisper"
)

// The benchmarks run the tiny-sized graph of the shared for-tests model:
// the encoder's cost is real, but the model writes no text, so the decoder
// stops at once; a real tiny.en decodes ~2-3 tokens per second of speech.

// BenchmarkRealtime10s compares the engine with whisper_full called
// directly from C, on the same 10 s of speech, threads and audio context.
// rtf is compute time over audio time.
func BenchmarkRealtime10s(b *testing.B) {
	path := sharedtest.Path(b, testModel)
	audio := speech16k(b, 10_000)
	for _, threads := range []int{1, 2} {
		for _, actx := range []int{0, AudioCtxFit} {
			name := fmt.Sprintf("threads=%d/audioctx=%s", threads, ctxName(actx))
			b.Run(name+"/direct-C", func(b *testing.B) {
				m, err := cwhisper.Load(path)
				if err != nil {
					b.Fatal(err)
				}
				defer m.Close()
				c := Config{AudioCtx: actx}
				for b.Loop() {
					if err := m.Full(audio, threads, c.audioCtxFor(len(audio))); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/10, "rtf")
			})
			b.Run(name+"/engine", func(b *testing.B) {
				e := newEngine(b, Config{Threads: threads, AudioCtx: actx})
				for b.Loop() {
					if _, err := e.Transcribe(context.Background(), transcribe.Audio{Samples: audio}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/10, "rtf")
			})
		}
	}
}

// BenchmarkEngineVsDirect alternates the engine and the direct C call on
// the same 10 s of speech, so that load from elsewhere on the machine falls
// on both alike; ratio is the engine's throughput over the direct call's
// (the target is at least 0.95).
func BenchmarkEngineVsDirect(b *testing.B) {
	path := sharedtest.Path(b, testModel)
	audio := speech16k(b, 10_000)
	for _, threads := range []int{1, 2} {
		for _, actx := range []int{0, AudioCtxFit} {
			b.Run(fmt.Sprintf("threads=%d/audioctx=%s", threads, ctxName(actx)), func(b *testing.B) {
				m, err := cwhisper.Load(path)
				if err != nil {
					b.Fatal(err)
				}
				defer m.Close()
				e := newEngine(b, Config{Threads: threads, AudioCtx: actx})
				c := Config{AudioCtx: actx}
				var direct, engine time.Duration
				runDirect := func() {
					t := time.Now()
					if err := m.Full(audio, threads, c.audioCtxFor(len(audio))); err != nil {
						b.Fatal(err)
					}
					direct += time.Since(t)
				}
				runEngine := func() {
					t := time.Now()
					if _, err := e.Transcribe(context.Background(), transcribe.Audio{Samples: audio}); err != nil {
						b.Fatal(err)
					}
					engine += time.Since(t)
				}
				i := 0
				for b.Loop() {
					if i%2 == 0 { // alternate which goes first
						runDirect()
						runEngine()
					} else {
						runEngine()
						runDirect()
					}
					i++
				}
				b.ReportMetric(direct.Seconds()/float64(b.N)/10, "rtf-direct")
				b.ReportMetric(engine.Seconds()/float64(b.N)/10, "rtf-engine")
				b.ReportMetric(direct.Seconds()/engine.Seconds(), "ratio")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

func ctxName(actx int) string {
	switch actx {
	case 0:
		return "1500"
	case AudioCtxFit:
		return "fit"
	}
	return strconv.Itoa(actx)
}

// BenchmarkCalls measures how much speech the machine transcribes per
// second with workers x threads, on 4 s utterances (a typical turn). A
// two-leg call with each leg speaking half the time makes one second of
// speech per second, so "calls" (audio seconds per second) is how many
// such calls the machine keeps up with. On a machine others are using too,
// calls-by-cpu (all cores times audio seconds per CPU second used) says
// what it would do alone.
func BenchmarkCalls(b *testing.B) {
	audio := speech16k(b, 4000)
	for _, wt := range [][2]int{{1, 1}, {1, 2}, {2, 1}, {3, 1}} {
		for _, actx := range []int{0, AudioCtxFit} {
			b.Run(fmt.Sprintf("workers=%d/threads=%d/audioctx=%s", wt[0], wt[1], ctxName(actx)), func(b *testing.B) {
				e := newEngine(b, Config{Workers: wt[0], Threads: wt[1], AudioCtx: actx})
				jobs := make(chan struct{})
				var wg sync.WaitGroup
				for range wt[0] {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range jobs {
							if _, err := e.Transcribe(context.Background(), transcribe.Audio{Samples: audio}); err != nil {
								b.Error(err)
							}
						}
					}()
				}
				start, cpu0 := time.Now(), cpuTime(b)
				for b.Loop() {
					jobs <- struct{}{}
				}
				close(jobs)
				wg.Wait()
				audioSec := float64(b.N) * 4
				b.ReportMetric(audioSec/time.Since(start).Seconds(), "calls")
				// What the machine's cores would do were no one else using them.
				b.ReportMetric(float64(runtime.NumCPU())*audioSec/(cpuTime(b)-cpu0).Seconds(), "calls-by-cpu")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStateMemory reports the resident memory one more worker state
// costs (the model's weights are loaded once and shared).
func BenchmarkStateMemory(b *testing.B) {
	for b.Loop() {
		one := rssAfter(b, 1)
		four := rssAfter(b, 4)
		b.ReportMetric((four-one)/3, "MiB/state")
		b.ReportMetric(one, "MiB/1-worker")
	}
}

// rssAfter loads an engine with n states, uses each once and returns the
// process's resident memory in MiB.
func rssAfter(b *testing.B, n int) float64 {
	e, err := New(Config{ModelPath: sharedtest.Path(b, testModel), Workers: n, Threads: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	audio := speech16k(b, 2000)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.Transcribe(context.Background(), transcribe.Audio{Samples: audio}); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	for _, l := range strings.Split(string(st), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	b.Skip("no VmRSS")
	return 0
}

// BenchmarkDecodeToken is the cost of one decoder step of the tiny graph,
// which the for-tests model never takes: add it per token a real model
// writes (about 3 per second of English speech, plus 4 to start).
func BenchmarkDecodeToken(b *testing.B) {
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			m, err := cwhisper.Load(sharedtest.Path(b, testModel))
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			if err := m.Full(speech16k(b, 4000), threads, 256); err != nil {
				b.Fatal(err)
			}
			n := 0
			for b.Loop() {
				if err := m.DecodeStep(n%32, threads); err != nil {
					b.Fatal(err)
				}
				n++
			}
		})
	}
}
