package sentiment

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/earshot-dev/earshot/msg"
)

// koreanModel is the trained Korean model (see TrainKorean; `go generate`
// rebuilds it from ../shared/data/korean).
//
//go:embed korean.model
var koreanModel []byte

//go:generate go run github.com/earshot-dev/earshot/cmd/earshot sentiment train -data ../../shared/data/korean -out korean.model

// ErrKoreanModel is returned for a Korean model file that cannot be read.
var ErrKoreanModel = errors.New("sentiment: bad korean model")

// koMagic starts a Korean model file.
const koMagic = "ESKO\x01"

// Korean is a linear model (logistic regression) over hashed character
// 1-3-grams, eojeol unigrams and bigrams, negation-marked eojeol and the
// KOSAC lexicon's polarities, trained on the Naver movie reviews (NSMC),
// with a contact-center phrase lexicon on top (koPhrases): see
// TrainKorean. It is safe for concurrent use.
type Korean struct {
	bits    uint
	bias    float64
	scale   float64 // of the weights
	weights []int16
	lex     koLexicon
	phrases koPhraseIndex
	pool    sync.Pool
}

var _ Model = (*Korean)(nil)

// NewKorean loads the Korean model built into Earshot.
func NewKorean() (*Korean, error) { return LoadKorean(bytes.NewReader(koreanModel)) }

// LoadKorean reads a Korean model file as TrainKorean writes it.
func LoadKorean(r io.Reader) (*Korean, error) {
	k, err := readKorean(bufio.NewReader(r))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKoreanModel, err)
	}
	k.phrases = newKoPhraseIndex(koPhrases)
	k.pool.New = func() any { return &koScratch{} }
	return k, nil
}

// The file: koMagic, bits (1 byte), the lexicon (uint32 count,
// then per entry polarity int8, length uint8, surface bytes), bias and
// weight scale (float32), then 1<<bits weights (int16, times the scale),
// all little-endian.
func readKorean(br *bufio.Reader) (*Korean, error) {
	magic := make([]byte, len(koMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != koMagic {
		return nil, errors.New("not a Korean model file")
	}
	bits, err := br.ReadByte()
	if err != nil || bits < 8 || bits > 24 {
		return nil, fmt.Errorf("hash bits %d out of 8..24", bits)
	}
	var nlex uint32
	if err := binary.Read(br, binary.LittleEndian, &nlex); err != nil || nlex > 1<<20 {
		return nil, fmt.Errorf("lexicon size %d", nlex)
	}
	k := &Korean{bits: uint(bits), lex: make(koLexicon, nlex)}
	for i := range nlex {
		var head [2]byte
		if _, err := io.ReadFull(br, head[:]); err != nil {
			return nil, fmt.Errorf("lexicon entry %d: %v", i, err)
		}
		surface := make([]byte, head[1])
		if _, err := io.ReadFull(br, surface); err != nil {
			return nil, fmt.Errorf("lexicon entry %d: %v", i, err)
		}
		k.lex[string(surface)] = int8(head[0])
	}
	var hdr struct{ Bias, Scale float32 }
	if err := binary.Read(br, binary.LittleEndian, &hdr); err != nil {
		return nil, fmt.Errorf("weights header: %v", err)
	}
	raw := make([]byte, 2<<bits)
	if _, err := io.ReadFull(br, raw); err != nil {
		return nil, fmt.Errorf("weights: %v", err)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, errors.New("bytes after the weights")
	}
	k.bias = float64(hdr.Bias)
	k.scale = float64(hdr.Scale)
	k.weights = make([]int16, 1<<bits)
	for i := range k.weights {
		k.weights[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
	}
	return k, nil
}

type koScratch struct {
	text  koText
	feats []uint32
}

// How the model's margin and the phrases make a score; see Score.
const (
	// KoreanNeutralBand: a turn with an informational phrase (성함, 번호,
	// 확인해 드릴게요, 네) and no polar one is neutral (compound 0) when its
	// damped margin is within ±KoreanNeutralBand. Movie reviews always
	// judge, so the model leans on a call's plain turns from words that
	// lean in reviews ("카드 번호 뒷자리 네 자리 불러 주세요": 카드 and 자리
	// lean negative); the band is kept to turns the lexicon calls plain, so
	// that a review (or a turn) the lexicon knows nothing of keeps the
	// model's sign: 0 would count as wrong in the NSMC evaluation.
	KoreanNeutralBand = 1.0
	// koPlainDamp scales the margin of a turn with an informational phrase
	// and no polar one.
	koPlainDamp = 0.25
	// koCompoundScale maps the score to compound: tanh(x/koCompoundScale).
	koCompoundScale = 4
)

// margin scores text with the linear model alone: the log-odds of a
// positive text.
func (k *Korean) margin(s *koScratch, text string) float64 {
	s.text.normalise(text)
	s.feats = s.text.features(s.feats[:0], k.bits, k.lex)
	var sum int64
	for _, f := range s.feats {
		sum += int64(k.weights[f])
	}
	return k.bias + k.scale*float64(sum)
}

// Score implements Model. The score x is the model's margin m, with the
// contact-center phrases (koPhrases): with a polar phrase, x is the
// phrases' valence plus m; with only informational ones, m/4, and 0 within
// ±KoreanNeutralBand. Compound is tanh(x/4).
func (k *Korean) Score(text string) msg.Sentiment {
	s := k.pool.Get().(*koScratch)
	defer k.pool.Put(s)
	m := k.margin(s, text)
	if len(s.text.words) == 0 {
		return msg.Sentiment{Label: msg.Neutral, Neu: 1}
	}
	return koSentiment(koScore(m, k.phrases.match(&s.text)))
}

// koScore combines the model's margin and the phrases (see Score).
func koScore(m float64, hits koPhraseHits) float64 {
	switch {
	case hits.polar > 0:
		return hits.valence + m
	case hits.plain > 0:
		if m *= koPlainDamp; math.Abs(m) < KoreanNeutralBand {
			return 0
		}
	}
	return m
}

// koSentiment maps a score to VADER's scale.
func koSentiment(x float64) msg.Sentiment {
	c := round4(math.Tanh(x / koCompoundScale))
	out := msg.Sentiment{Compound: c}
	switch {
	case c > 0:
		out.Pos = c
	case c < 0:
		out.Neg = -c
	}
	out.Neu = round4(1 - out.Pos - out.Neg)
	out.Label = label(c, 0, 0)
	return out
}
