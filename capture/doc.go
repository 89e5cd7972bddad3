// Package capture owns everything below the audio: the UDP sockets that take
// RTP forks of live calls, RTP and RTCP parsing, a jitter buffer per stream,
// RFC 4733 DTMF, G.711 decoding, voice activity and endpointing per leg, and
// the call's talk/silence/overlap timeline. It cuts each leg's speech into
// self-contained utterance jobs and publishes them, with the call's
// lifecycle, timeline and DTMF events, through a [Publisher].
//
// # Calls and legs
//
// A call is declared by an announce ([Capture.Announce], the NATS request
// msg.SubjectAnnounce and the HTTP handler [Capture.AnnounceHandler]) that
// names each leg's role and its SSRC or source address. RTP that matches no
// announced leg is grouped by endpoint pair: the streams arriving on the same
// capture address form one undeclared call of at most two legs, named a and
// b in order of arrival, unless Config.AgentNets says which source is the
// agent. A call ends on an announce with End, on RTCP BYE from every stream
// of the call, or after Config.CallTimeout without packets (a call an
// intake still feeds is ended by its intake instead).
//
// With Config.Surveys, the customer's DTMF digits after the agent leg
// ended (or after an announce naming a survey) answer the post-call
// survey, published as a msg.SurveyResult (package survey).
//
// # Sockets
//
// Each listen address is read a batch of datagrams at a time (recvmmsg on
// Linux), each batch handled under one lock. [Config.Readers] sockets can
// share a port (SO_REUSEPORT): the kernel hashes each source to one of
// them and one goroutine reads each, so a source's packets stay in order,
// but not the order between sources. The kernel's drops at the sockets (a
// full receive buffer) and the datagrams read are in [Capture.SocketStats]
// and the metrics earshot_capture_socket_drops_total and
// earshot_capture_socket_datagrams_total.
//
// # Intakes
//
// RTP to capture's sockets is one intake. The others live in sub-packages
// (capture/mediastream for WebSocket media streams, capture/audiosocket for
// Asterisk AudioSocket, capture/siprec for SIPREC) and feed capture through
// one seam: [Capture.Open] opens (or joins) a call with its announce data,
// [Call.Leg] gives a [Leg] per side, and a leg takes 8 kHz PCM or G.711 on
// the call clock ([Leg.PCM], [Leg.G711]) or RTP packets from the intake's
// own media socket ([Leg.RTP], SIPREC: through a jitter buffer), DTMF
// digits ([Leg.DTMF]) and its end ([Leg.Close]); [Call.Hold], [Call.Update] and [Call.End] do what the
// announce does. From the leg on, every intake takes the same path: voice
// activity, endpointing, utterance jobs, timeline, DTMF, counters. Intakes
// over TCP carry no loss, so they have no jitter buffer. Call events name
// the intake (msg.CallEvent.Intake) and the metric
// earshot_capture_intake_calls_total counts calls by it; what an intake
// refuses is counted by [Capture.RefuseIntake]. An announce can name a leg
// of another intake by the id it gives itself there (msg.LegSpec.ID, an
// AudioSocket UUID): [Capture.AnnouncedLeg] tells that intake the leg's
// call and role.
//
// # Per stream
//
// Packets go through a jitter buffer sized by time that puts them in
// sequence order across wrap-around and drops duplicates. Packets in order
// pass at once; those behind a missing one are held until it comes or the
// first of them has waited the buffer delay, then the missing one is
// concealed with silence of one frame. The delay adapts to the spread of
// the stream's transit times over the last seconds, within
// [Config.JitterMin] and [Config.JitterMax]. Counters per stream are
// reported in the ended call event (msg.StreamStats):
//
//   - received: RTP packets of the stream (including duplicates and late ones)
//   - lost: sequence numbers played out as concealed silence
//   - late: packets that arrived after their place was played out as lost,
//     and packets of a stream whose call ended (BYE, announce) that come
//     within seconds after it (counted in the metrics only)
//   - duplicate: packets whose sequence number was already taken (or came
//     late already)
//   - reordered: packets that arrived after a higher sequence number but in
//     time to be played in order
//   - refused: packets of a payload type capture does not take
//
// Timestamps place audio on the leg's clock: a gap in timestamps between
// consecutive packets (silence suppression, a DTMF event) is filled with
// silence up to 5 s; a jump beyond that or backwards re-anchors the leg's
// clock to the wall clock without filling. A new SSRC from the source of a
// known leg continues that leg as a new stream.
//
// # Voice activity
//
// Each 20 ms frame's energy is compared with a threshold: the larger of
// Config.VADThresholdDBFS and the tracked noise floor plus Config.VADMarginDB.
// Two consecutive speech frames start a turn; Config.Endpoint of non-speech
// ends it, or the shorter Config.Handover when the call says the turn is
// over: the speaker's level has fallen 10 dB below its speech's and the
// other leg has started a turn since the speaker's last speech. A turn shorter than Config.MinTurn is dropped as a click (no job,
// nothing on the timeline). Jobs carry Config.PreRoll of audio before the
// speech and Config.PostRoll after it.
package capture
