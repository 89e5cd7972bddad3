package capture

import "github.com/zaf/g711"

// decodeTables maps each G.711 byte to its linear sample, built once from
// zaf/g711 so decoding a packet is one table lookup per sample.
type decodeTables struct{ ulaw, alaw [256]int16 }

func newDecodeTables() *decodeTables {
	var t decodeTables
	for i := 0; i < 256; i++ {
		t.ulaw[i] = g711.DecodeUlawFrame(uint8(i))
		t.alaw[i] = g711.DecodeAlawFrame(uint8(i))
	}
	return &t
}

// decode appends the samples of payload (PCMU or PCMA) to dst.
func (t *decodeTables) decode(dst []int16, pt uint8, payload []byte) []int16 {
	tab := &t.ulaw
	if pt == ptPCMA {
		tab = &t.alaw
	}
	n := len(dst)
	dst = grow(dst, len(payload))
	out := dst[n:]
	for i, b := range payload {
		out[i] = tab[b]
	}
	return dst
}

// grow extends s by n elements, reallocating only when it must.
func grow(s []int16, n int) []int16 {
	if cap(s)-len(s) < n {
		ns := make([]int16, len(s), 2*cap(s)+n)
		copy(ns, s)
		s = ns
	}
	return s[:len(s)+n]
}
