package capture

import "github.com/earshot-dev/earshot/msg"

// AudioSink receives each leg's decoded audio as capture plays it out, for
// a recorder. Positions are samples on the call clock (msg.SampleRate);
// lost packets and timestamp gaps come as silence, while a silence capture
// skips over (an idle leg, a hold) is a jump in position that the sink
// fills. Both methods are called on capture's loop and must not block;
// pcm is only valid during the call.
type AudioSink interface {
	// LegAudio hands over the samples of call's leg role, the first at
	// call-clock sample at.
	LegAudio(call string, role msg.Role, at int64, pcm []int16)
	// CallEnded says call ended at call-clock sample end; no more audio
	// comes for it.
	CallEnded(call string, end int64)
}
