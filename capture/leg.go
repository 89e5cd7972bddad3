package capture

import (
	"math"

	"github.com/earshot-dev/earshot/msg"
)

// frameLen is the VAD frame: 20 ms at 8 kHz.
const frameLen = 160

// fullScale is the energy of a full-scale frame (sum of squares).
const fullScale = float64(frameLen) * 32768 * 32768

// legSink receives what a leg's voice activity produces. The call
// implements it.
type legSink interface {
	job(l *leg, j *msg.UtteranceJob)
	talkStart(l *leg, startPos int64)
	talkEnd(l *leg, startPos, endPos int64, loudnessDBFS float64)
}

// vadParams are a leg's voice activity settings, in samples and energies.
type vadParams struct {
	absEnergy    float64 // frame energy at Config.VADThresholdDBFS
	margin       float64 // linear factor of Config.VADMarginDB
	onsetFrames  int
	endpoint     int64
	handover     int64   // <= 0: none
	handoverFall float64 // linear factor of handoverFallDB, below 1
	minTurn      int64
	preRoll      int64
	postRoll     int64
	interimEvery int64
	maxPart      int64
	language     string
}

// leg is one side of a call: its audio on the leg clock and its turns.
type leg struct {
	call   *call
	role   msg.Role
	info   msg.LegInfo
	p      *vadParams
	offset int64 // call-clock sample of leg position 0

	buf      []int16 // audio from leg position bufStart
	bufStart int64
	vadPos   int64   // start of the next VAD frame
	floor    float64 // tracked noise floor (frame energy)

	inTurn      bool
	run         int   // consecutive speech frames while idle
	runStart    int64 // first of them
	turn, part  int
	rev         int
	partStart   int64
	speechStart int64
	speechEnd   int64
	nextInterim int64
	talking     bool    // the turn is long enough to be one (MinTurn)
	energy      float64 // of the turn's speech frames
	speech      int     // speech frames in the turn
	quietEnergy float64 // of the frames since the turn's last speech
	quiet       int     // frames since the turn's last speech
	finals      int
	sink        legSink
	rec         AudioSink // Config.Recorder, or nil
	recPos      int64     // leg position up to which audio went to rec
}

func (l *leg) pos() int64 { return l.bufStart + int64(len(l.buf)) }

// callMS converts a leg position to milliseconds on the call clock.
func (l *leg) callMS(pos int64) int64 { return (l.offset + pos) * 1000 / msg.SampleRate }

// silence appends n samples of silence.
func (l *leg) silence(n int) {
	if !l.inTurn && l.run == 0 && l.vadPos == l.pos() {
		// Idle: whole frames of silence before the last pre-roll's worth
		// would be analysed as silence and trimmed; only the clock moves.
		keep := l.p.preRoll + int64(l.p.onsetFrames)*frameLen
		if skip := (int64(n) - keep) / frameLen * frameLen; skip > 0 {
			l.bufStart = l.pos() + skip
			l.buf = l.buf[:0]
			l.vadPos = l.bufStart
			l.floor = 0 // what a silent frame leaves it at
			n -= int(skip)
		}
	}
	l.buf = grow(l.buf, n)
	clear(l.buf[len(l.buf)-n:])
	l.analyse()
}

// analyse runs the VAD over the audio appended since it last ran.
func (l *leg) analyse() {
	if l.rec != nil {
		from := max(l.recPos, l.bufStart)
		if from < l.pos() {
			l.rec.LegAudio(l.call.id, l.role, l.offset+from, l.buf[from-l.bufStart:])
		}
		l.recPos = l.pos()
	}
	for l.vadPos+frameLen <= l.pos() {
		i := l.vadPos - l.bufStart
		l.frame(l.buf[i:i+frameLen], l.vadPos)
		l.vadPos += frameLen
	}
	l.trim()
}

// trim drops audio no longer needed: before the current part in a turn,
// else all but the pre-roll.
func (l *leg) trim() {
	keep := l.partStart
	if !l.inTurn {
		keep = l.vadPos - l.p.preRoll - int64(l.p.onsetFrames)*frameLen
		if l.run > 0 && l.runStart-l.p.preRoll < keep {
			keep = l.runStart - l.p.preRoll
		}
	}
	drop := keep - l.bufStart
	if drop < 4096 || drop > int64(len(l.buf)) {
		return
	}
	n := copy(l.buf, l.buf[drop:])
	l.buf = l.buf[:n]
	l.bufStart += drop
}

// frame runs the VAD on one 20 ms frame starting at pos.
func (l *leg) frame(f []int16, pos int64) {
	var sum int64
	for _, s := range f {
		sum += int64(s) * int64(s)
	}
	e := float64(sum)
	thr := l.floor * l.p.margin
	if thr < l.p.absEnergy {
		thr = l.p.absEnergy
	}
	speech := e >= thr
	if !speech {
		if e < l.floor {
			l.floor = e
		} else {
			l.floor += (e - l.floor) * 0.02
		}
	}
	end := pos + frameLen
	if !l.inTurn {
		if !speech {
			l.run = 0
			return
		}
		if l.run == 0 {
			l.runStart = pos
		}
		l.run++
		if l.run < l.p.onsetFrames {
			return
		}
		l.startTurn(l.runStart)
		return
	}
	if speech {
		l.speechEnd = end
		l.energy += e
		l.speech++
		l.quietEnergy, l.quiet = 0, 0
		if !l.talking && l.speechEnd-l.speechStart >= l.p.minTurn {
			// Long enough not to be a click: the timeline hears it.
			l.talking = true
			l.sink.talkStart(l, l.speechStart)
		}
	} else {
		l.quietEnergy += e
		l.quiet++
		if end-l.speechEnd >= l.p.endpoint || l.handedOver(end) {
			l.endTurn()
			return
		}
	}
	if end-l.partStart >= l.p.maxPart {
		l.emit(l.partStart, end, false)
		l.part++
		l.partStart = end
		l.rev = 0
		l.nextInterim = end + l.p.interimEvery
	} else if speech && l.p.interimEvery > 0 && end >= l.nextInterim {
		// Only on speech, so an interim never holds more than its final.
		l.rev++
		l.emit(l.partStart, end, true)
		l.nextInterim = end + l.p.interimEvery
	}
}

// handedOver reports whether the turn is over before the endpoint
// silence: the speaker has been silent for the handover silence, its level
// has fallen well below its speech's, and another leg of the call has
// started a turn (a real one, not a click) since its last speech.
func (l *leg) handedOver(end int64) bool {
	if l.p.handover <= 0 || end-l.speechEnd < l.p.handover || !l.talking || l.speech == 0 ||
		l.quietEnergy/float64(l.quiet) > l.p.handoverFall*l.energy/float64(l.speech) {
		return false
	}
	// On the call clock: the other's turn began after this leg's last
	// speech and was a turn (MinTurn of speech) by this leg's now. A leg
	// whose audio is read ahead of this one's is not looked at in its
	// future; one read behind gives no handover yet.
	since, now := l.offset+l.speechEnd, l.offset+end
	for _, o := range l.call.legs {
		if o != l && o.inTurn && o.talking && o.offset+o.speechStart >= since && o.offset+o.speechStart+o.p.minTurn <= now {
			return true
		}
	}
	return false
}

func (l *leg) startTurn(start int64) {
	l.inTurn = true
	l.run = 0
	l.turn++
	l.part, l.rev = 0, 0
	l.speechStart = start
	l.partStart = max(start-l.p.preRoll, l.bufStart)
	l.speechEnd = l.vadPos + frameLen
	l.nextInterim = l.partStart + l.p.interimEvery
	l.energy, l.speech = 0, 0
	l.quietEnergy, l.quiet = 0, 0
	// The onset frames are speech.
	for p := start; p < l.speechEnd; p += frameLen {
		var sum int64
		for _, s := range l.buf[p-l.bufStart : p-l.bufStart+frameLen] {
			sum += int64(s) * int64(s)
		}
		l.energy += float64(sum)
		l.speech++
	}
	l.talking = false
}

// endTurn finishes the current turn at its last speech (plus post-roll).
func (l *leg) endTurn() {
	if !l.inTurn {
		return
	}
	l.inTurn = false
	end := min(l.speechEnd+l.p.postRoll, l.pos(), l.partStart+l.p.maxPart)
	if !l.talking {
		l.turn-- // a click, not a turn
		l.trim()
		return
	}
	if end > l.partStart {
		l.emit(l.partStart, end, false)
	}
	loud := -127.0
	if l.speech > 0 && l.energy > 0 {
		loud = 10 * math.Log10(l.energy/float64(l.speech)/fullScale)
	}
	l.sink.talkEnd(l, l.speechStart, l.speechEnd, loud)
	l.trim()
}

func (l *leg) emit(from, to int64, interim bool) {
	pcm := make([]int16, to-from)
	copy(pcm, l.buf[from-l.bufStart:to-l.bufStart])
	j := &msg.UtteranceJob{
		CallID: l.call.id, Leg: l.role, Turn: l.turn, Part: l.part,
		Interim: interim, StartMS: l.callMS(from), EndMS: l.callMS(to),
		SampleRate: msg.SampleRate, Language: l.p.language, PCM: pcm,
	}
	if interim {
		j.Rev = l.rev
	} else {
		l.finals++
	}
	l.sink.job(l, j)
}

// finish ends the leg: the last partial frame is analysed as if padded with
// silence and an open turn is finished.
func (l *leg) finish() {
	if r := l.pos() - l.vadPos; r > 0 {
		l.silence(int(frameLen - r))
	}
	l.endTurn()
}
