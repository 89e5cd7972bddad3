package sentiment

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// KoreanTrainConfig sets the Korean model's training; the zero value is the
// one the committed model was trained with.
type KoreanTrainConfig struct {
	// Bits is the size of the hashed feature space, 1<<Bits weights.
	// Default 20.
	Bits uint
	// Epochs over the training reviews. Default 3.
	Epochs int
	// Rate is AdaGrad's learning rate. Default 0.05.
	Rate float64
	// L2 is the weight decay per update. Default 1e-7.
	L2 float64
	// Seed fixes the order of the reviews in each epoch. Default 1.
	Seed uint64
	// Limit, when positive, trains on the first Limit reviews only (tests).
	Limit int
}

func (c *KoreanTrainConfig) defaults() error {
	if c.Bits == 0 {
		c.Bits = 20
	}
	if c.Bits < 8 || c.Bits > 24 {
		return fmt.Errorf("sentiment: korean training: hash bits %d out of 8..24", c.Bits)
	}
	if c.Epochs <= 0 {
		c.Epochs = 3
	}
	if c.Rate <= 0 {
		c.Rate = 0.05
	}
	if c.L2 <= 0 {
		c.L2 = 1e-7
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	return nil
}

// KoreanTrainStats says what training read and how the model does on the
// held-out reviews.
type KoreanTrainStats struct {
	Train, Dev  int
	Lexicon     int
	DevAccuracy float64 // sign of the margin
}

// koreanReview is one labelled NSMC review.
type koreanReview struct {
	text     string
	positive bool
}

// koreanIsDev says which NSMC rows are held out: every tenth (rows counted
// from 0 after the header, row%10 == 9), 15,000 of the 150,000.
func koreanIsDev(row int) bool { return row%10 == 9 }

// readNSMC reads NSMC's ratings file (id, document, label; tab-separated,
// with a header) into training and held-out reviews. limit > 0 stops after
// that many rows.
func readNSMC(r io.Reader, limit int) (train, dev []koreanReview, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line, row := 0, 0
	for sc.Scan() {
		line++
		if line == 1 {
			if !strings.HasPrefix(sc.Text(), "id\tdocument\tlabel") {
				return nil, nil, fmt.Errorf("nsmc line 1: want the header id, document, label")
			}
			continue
		}
		parts := strings.Split(sc.Text(), "\t")
		if len(parts) != 3 || (parts[2] != "0" && parts[2] != "1") {
			return nil, nil, fmt.Errorf("nsmc line %d: want id, document, label 0 or 1 separated by tabs", line)
		}
		doc := parts[1]
		if len(doc) >= 2 && doc[0] == '"' && doc[len(doc)-1] == '"' {
			doc = strings.ReplaceAll(doc[1:len(doc)-1], `""`, `"`) // pandas' CSV quoting
		}
		rv := koreanReview{text: doc, positive: parts[2] == "1"}
		if koreanIsDev(row) {
			dev = append(dev, rv)
		} else {
			train = append(train, rv)
		}
		row++
		if limit > 0 && row >= limit {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("nsmc: %w", err)
	}
	if len(train) == 0 {
		return nil, nil, errors.New("nsmc: no reviews")
	}
	return train, dev, nil
}

// KOSAC's polarity.csv rows become lexicon entries when they are one
// morpheme of a content tag, at least koLexMinSeeds seeds hold them, and
// koLexMinShare of those seeds are positive (or negative).
const (
	koLexMinSeeds = 3
	koLexMinShare = 0.7
)

// koLexTags are the KOSAC tags whose surfaces start an eojeol: nouns, verb
// and adjective stems, roots, adverbs, interjections.
var koLexTags = map[string]bool{"NNG": true, "VV": true, "VA": true, "XR": true, "MAG": true, "IC": true}

// readKOSAC reads KOSAC's polarity.csv (ngram, COMP, NEG, NEUT, None, POS
// counts) into a lexicon of surfaces. Verb and adjective stems of one
// syllable (좋, 싫) are kept; other one-syllable surfaces match too much.
func readKOSAC(r io.Reader) (koLexicon, error) {
	cr := csv.NewReader(r)
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("kosac polarity: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	for _, h := range []string{"ngram", "POS", "NEG"} {
		if _, ok := col[h]; !ok {
			return nil, fmt.Errorf("kosac polarity: no %s column in the header", h)
		}
	}
	lex := koLexicon{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("kosac polarity: %w", err)
		}
		ngram := rec[col["ngram"]]
		if strings.Contains(ngram, " ") {
			continue
		}
		i := strings.LastIndexByte(ngram, '/')
		if i <= 0 || !koLexTags[ngram[i+1:]] {
			continue
		}
		surface, tag := strings.TrimSuffix(ngram[:i], "*"), ngram[i+1:]
		if len(surface) > 255 || strings.ContainsAny(surface, "*/ ") || len([]rune(surface)) == 1 && tag != "VA" && tag != "VV" {
			continue
		}
		total, pos, neg := 0, 0, 0
		for j, v := range rec[1:] {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("kosac polarity: %s: count %q", ngram, v)
			}
			total += n
			switch head[j+1] {
			case "POS":
				pos = n
			case "NEG":
				neg = n
			}
		}
		switch {
		case pos+neg < koLexMinSeeds:
		case float64(pos) >= koLexMinShare*float64(total):
			lex[surface] = 1
		case float64(neg) >= koLexMinShare*float64(total):
			lex[surface] = -1
		}
	}
	return lex, nil
}

// TrainKorean trains the Korean model on NSMC's ratings file (nsmc) with
// KOSAC's polarity.csv (kosac) and writes the model file to out: logistic
// regression, AdaGrad, over the hashed features of every review but the
// held-out tenth, in an order fixed by the seed, so the same data gives the
// same bytes. The stats measure the written (quantised) model on the
// held-out reviews.
func TrainKorean(nsmc, kosac io.Reader, out io.Writer, cfg KoreanTrainConfig) (KoreanTrainStats, error) {
	if err := cfg.defaults(); err != nil {
		return KoreanTrainStats{}, err
	}
	train, dev, err := readNSMC(nsmc, cfg.Limit)
	if err != nil {
		return KoreanTrainStats{}, fmt.Errorf("sentiment: korean training: %w", err)
	}
	lex, err := readKOSAC(kosac)
	if err != nil {
		return KoreanTrainStats{}, fmt.Errorf("sentiment: korean training: %w", err)
	}
	// Features once per review: offsets into one slice.
	var feats []uint32
	offs := make([]int, 0, len(train)+1)
	var t koText
	for _, rv := range train {
		offs = append(offs, len(feats))
		t.normalise(rv.text)
		feats = t.features(feats, cfg.Bits, lex)
	}
	offs = append(offs, len(feats))

	// NB-LR (Wang and Manning's NB-SVM with a logistic loss): each feature
	// is scaled by its naive Bayes log-count ratio r, so that features as
	// common in positive as in negative reviews (most syllables) weigh
	// little and a text of such features scores near 0; the model's weight
	// of a bucket is then w·r.
	r := koLogCountRatios(train, feats, offs, cfg.Bits)
	w := make([]float64, 1<<cfg.Bits)
	g2 := make([]float64, 1<<cfg.Bits)
	var bias, biasG2 float64
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x4b6f7265616e)) // "Korean"
	order := make([]int, len(train))
	for i := range order {
		order[i] = i
	}
	for range cfg.Epochs {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, d := range order {
			fs := feats[offs[d]:offs[d+1]]
			z := bias
			for _, f := range fs {
				z += w[f] * r[f]
			}
			y := 0.0
			if train[d].positive {
				y = 1
			}
			g := 1/(1+math.Exp(-z)) - y
			for _, f := range fs {
				gf := g*r[f] + cfg.L2*w[f]
				g2[f] += gf * gf
				w[f] -= cfg.Rate * gf / math.Sqrt(g2[f]+1e-8)
			}
			biasG2 += g * g
			bias -= cfg.Rate * g / math.Sqrt(biasG2+1e-8)
		}
	}
	for f := range w {
		w[f] *= r[f]
	}
	var buf bytes.Buffer
	if err := writeKorean(&buf, cfg.Bits, lex, bias, w); err != nil {
		return KoreanTrainStats{}, err
	}
	k, err := LoadKorean(bytes.NewReader(buf.Bytes()))
	if err != nil {
		return KoreanTrainStats{}, err
	}
	st := KoreanTrainStats{Train: len(train), Dev: len(dev), Lexicon: len(lex)}
	st.DevAccuracy = k.rawAccuracy(dev)
	if _, err := out.Write(buf.Bytes()); err != nil {
		return st, err
	}
	return st, nil
}

// koLogCountRatios returns each bucket's naive Bayes log-count ratio over
// the training reviews: log((p_f+1)/|p+1|) - log((q_f+1)/|q+1|), where p_f
// and q_f count the positive and negative reviews with feature f.
func koLogCountRatios(train []koreanReview, feats []uint32, offs []int, bits uint) []float64 {
	pos := make([]float64, 1<<bits)
	neg := make([]float64, 1<<bits)
	seen := make([]int, 1<<bits) // review index+1 that last counted the bucket
	for d, rv := range train {
		for _, f := range feats[offs[d]:offs[d+1]] {
			if seen[f] == d+1 {
				continue
			}
			seen[f] = d + 1
			if rv.positive {
				pos[f]++
			} else {
				neg[f]++
			}
		}
	}
	var sp, sn float64
	for f := range pos {
		sp += pos[f] + 1
		sn += neg[f] + 1
	}
	r := make([]float64, 1<<bits)
	for f := range r {
		r[f] = math.Log((pos[f]+1)/sp) - math.Log((neg[f]+1)/sn)
	}
	return r
}

// rawAccuracy is the share of reviews whose margin has the review's sign
// (0 counts as wrong).
func (k *Korean) rawAccuracy(reviews []koreanReview) float64 {
	if len(reviews) == 0 {
		return 0
	}
	s := &koScratch{}
	right := 0
	for _, rv := range reviews {
		m := k.margin(s, rv.text)
		if m > 0 && rv.positive || m < 0 && !rv.positive {
			right++
		}
	}
	return float64(right) / float64(len(reviews))
}

// writeKorean writes the model file readKorean reads, weights quantised to
// int16 against the largest.
func writeKorean(out io.Writer, bits uint, lex koLexicon, bias float64, w []float64) error {
	bw := bufio.NewWriter(out)
	bw.WriteString(koMagic)
	bw.WriteByte(byte(bits))
	surfaces := make([]string, 0, len(lex))
	for s := range lex {
		surfaces = append(surfaces, s)
	}
	slices.Sort(surfaces)
	binary.Write(bw, binary.LittleEndian, uint32(len(surfaces)))
	for _, s := range surfaces {
		bw.WriteByte(byte(lex[s]))
		bw.WriteByte(byte(len(s)))
		bw.WriteString(s)
	}
	maxW := 0.0
	for _, v := range w {
		maxW = max(maxW, math.Abs(v))
	}
	scale := maxW / math.MaxInt16
	if scale == 0 {
		scale = 1
	}
	binary.Write(bw, binary.LittleEndian, struct{ Bias, Scale float32 }{float32(bias), float32(scale)})
	q := make([]int16, len(w))
	for i, v := range w {
		q[i] = int16(math.Round(v / float64(float32(scale))))
	}
	binary.Write(bw, binary.LittleEndian, q)
	return bw.Flush()
}
