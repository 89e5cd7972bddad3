// Package msg owns the messages Earshot's stages exchange over NATS and the
// subjects they travel on. Every stage imports it; it imports nothing of ours.
//
// # Envelope
//
// Every JSON message is wrapped in an envelope that names its schema and
// version:
//
//	{"schema":"segment","v":1,"data":{...}}
//
// [Marshal] writes it and [Unmarshal] checks it: a message of another schema,
// or of a newer major version than this build knows, is refused with an error
// that names both. Fields may be added to a schema without a version change;
// removing or changing the meaning of a field bumps the version.
//
// Utterance audio is the one binary frame (see [EncodeUtterance]):
//
//	"ESU1" | uint32 big-endian length of the JSON header | JSON header | PCM16LE samples
//
// # Subjects
//
//	earshot.call.<call>                      CallEvent       capture  (started, updated, ended)
//	earshot.audio.<call>.<leg>               UtteranceJob    capture  (binary frame; work queue)
//	earshot.timeline.<call>                  TimelineEvent   capture  (talk, silence, overlap, hold spans; open silence and hold)
//	earshot.dtmf.<call>                      DTMFEvent       capture
//	earshot.transcript.<call>                Segment         transcribe (interim and final)
//	earshot.analysis.<call>.segment          ScoredSegment   sentiment
//	earshot.analysis.<call>.sentiment        CallSentiment   sentiment
//	earshot.analysis.<call>.characteristics  Characteristics analyze
//	earshot.alert.<call>                     Alert           rules
//	earshot.category.<call>                  Categories      rules
//	earshot.event.<call>                     RuleEvent       rules (the "publish" action)
//	earshot.evaluation.<call>                Evaluation      anyone (a scored form; the store keeps the newest per form)
//	earshot.redaction.<call>                 AudioRedaction  store (once the call's analysis is final and stored)
//	earshot.stored.<call>                    CallStored      store (its final categories, and so all its analysis, are stored)
//	earshot.survey.<call>                    SurveyResult    capture (post-call survey answers; the store keeps the newest per survey)
//	earshot.deadletter.<stage>               DeadLetter      any stage
//	earshot.announce                         CallAnnounce    request/reply (AnnounceReply)
//	earshot.rules.reload                     (empty)         request/reply (RulesReloadReply)
//
// # Buckets
//
// State that any process of a stage may need lives in NATS KV, so the
// processes are interchangeable:
//
//	EARSHOT_RULES        in-force                 RuleChange  the rules in force (validated before put; 64 versions kept),
//	                                                          written by earshot rules push and the rules page, watched by every analyze
//	EARSHOT_UI_USERS     <hex of the user name>   ui.User     the web view's users and API tokens (ui's own)
//	EARSHOT_UI_SESSIONS  <hex SHA-256 of cookie>  session     the web view's logins; the bucket's age limit is their lifetime (ui's own)
//
// The rules bucket's value is a RuleChange in the envelope; its history is
// who put which rules in force when. An analyze process refuses a value
// whose rules do not parse, and its rules in force stay.
//
// # Contracts between stages
//
//   - Capture publishes exactly one final UtteranceJob per finished turn part
//     (a turn longer than [MaxJobDuration] is cut into parts) and counts them in
//     the ended CallEvent (FinalJobs), so later stages know when a call's
//     transcript is complete.
//   - Transcribe publishes exactly one final Segment for every final job, even
//     when there is no text (silence, a dropped hallucination) or the job failed
//     for good (Error is set and the job is also dead-lettered). No accepted
//     utterance is dropped silently.
//   - Capture publishes every UtteranceJob with its [UtteranceJob.MsgID] as
//     the Nats-Msg-Id header, so a retried publish is stored once.
//   - A dead-lettered message can be replayed (earshot deadletters replay):
//     it is published again on its subject with its message id
//     ([DeadLetter.MsgID]). A replayed final job gets a second final Segment
//     with the same ID, which replaces the error one.
//   - Times are on the call clock: milliseconds since the call started.
//   - A call comes by one intake, named in every CallEvent (Intake: rtp,
//     mediastream, audiosocket, siprec); downstream a call looks the same
//     whichever it came by. A call its intake hung up (a WebSocket stop, an
//     AudioSocket hangup, a SIP BYE) ends with reason EndHangup.
//   - An announce (CallAnnounce, on earshot.announce or over HTTP) declares a
//     call's agent, queue, attributes and legs for whichever intake brings
//     the audio: an RTP leg by its SSRC or source address, an AudioSocket
//     leg by its connection's UUID (LegSpec.ID), so that a leg that connects
//     with an announced id joins the announced call in the announced role.
//     An announce whose legs are all named by id carries no RTP details.
//   - Non-talk time is seen while it goes on, with one message more per
//     silence or hold, not a tick: capture publishes an Open TimelineEvent
//     when a hold begins and when a silence has lasted its minimum (1 s),
//     and the finished span when it ends (a silence's finished span comes
//     even if shorter than the minimum, once its open one was published).
//     The analyzer carries the open spans in Characteristics.Open; a reader
//     counts them up to its own now on the call clock (the wall clock since
//     the CallEvent's StartedAt), with [Characteristics.NonTalkAt]: rules
//     fire when a non_talk threshold is crossed, the board ticks.
//   - Sentiment scores a final segment with the model of its Language (the
//     transcriber's, or, when it names none, "ko" for text that is at least
//     half Hangul, else "en"), and says which in Sentiment.Language. A
//     language with no model gets a neutral score whose Sentiment.Unscored
//     says so; it is never dropped.
//   - A Dashboard (the store's answer to a DashboardQuery) counts the ended
//     calls that started in [From, To), bucketed by start time on the
//     query's clock; its shares are fractions of the row's calls (or, for
//     non-talk and talk, of the time of the calls with characteristics),
//     and a figure nothing was measured for is null, never 0.
//   - The store publishes one CallStored per call (message id
//     "stored/<call>") once it has committed the call's final Categories:
//     the rules publish those last, after everything else of the call, and
//     the store keeps the stream's order per call, so the stored record is
//     then complete. The evaluate stage consumes it and scores the call with
//     each form's version in force when the call ended (the newest saved by
//     EndedAt); it reads the record from the store and writes the
//     Evaluation there itself (with FormRevision set), as it does for an
//     analyst's changed answers and for re-scoring. An analyst's answer
//     (By set) is kept when the call is scored again, while the form still
//     allows it; Auto is always the automatic answer.
//   - Post-call survey answers are never transcript text: capture, given
//     survey definitions, starts a call's survey when its agent leg ends
//     (RTCP BYE from every agent stream, or the intake closing that leg)
//     while the call goes on, or when a CallAnnounce with Survey names it;
//     from then on the customer leg's DTMF digits answer its questions in
//     order (on a 0-10 scale a 1 waits for the next key: 0 makes 10), and
//     capture publishes one SurveyResult when every question is answered
//     or the call ends, before its ended CallEvent. The digits still go out
//     as DTMFEvents (which the store masks). A Dashboard's CSAT is the
//     share of 4-5 among the answers to 1-5 questions, its NPS the percent
//     of 9-10 minus the percent of 0-6 among the answers to 0-10
//     questions, over the row's calls; null without answers.
//   - Characteristics.TalkSpeedWPM counts space-separated words, which for
//     Korean are eojeol; TalkSpeedSPM counts Hangul syllables per minute over
//     the turns that have them.
//
// # Partitions
//
// A stage that keeps per-call state (analyze) may run as several processes
// on a NATS cluster. The calls are spread over P partitions by
// [Partition] (FNV-1a 64 of the call id, modulo P); each partition is
// owned by one live process at a time, through a lease in the NATS
// key-value bucket EARSHOT_LEASES:
//
//	<group>.partitions       P, while any process of the group runs (a count changed while running is refused)
//	<group>.member.<id>      a live process's random instance id; a second process with the same --identity is refused
//	<group>.partition.<n>    the identity owning partition n
//
// Every key lasts the bucket's TTL unless renewed (each fifth of it): when
// an owner dies its keys lapse and the others take its partitions, by an
// even share that is a function of the live members sorted by identity.
// A partition's messages come through its own durable consumer
// (<durable>-p<n>, or <durable> when P is 1), which sees every call's
// messages and hands on its partition's; a process taking over a partition
// whose owner died with messages in hand restarts the consumer from its
// ack floor, so those come at once rather than after their ack wait. A
// process picking up a call mid-way rebuilds its state from the call's
// earlier messages on earshot.> before going on, and what it publishes
// again is stored once: analyze's results carry message ids (alerts,
// categories, events by rule and call; scored segments, sentiment and
// characteristics by their content).
//
// # Recordings
//
// Recording is in-process, not on the bus: capture hands every leg's
// decoded audio, on the call clock and with loss and timestamp gaps filled
// with silence, to the recorder (package record) through the AudioSink it
// declares, and says when each call ends. The recorder, beside capture,
// writes a call's two channels as it goes, in parts of 10 s, to its store
// (a directory or the NATS object store bucket EARSHOT_RECORDINGS), under
// these names:
//
//	<call>/parts/<session>-<sample>.ul  in progress: µ-law frames, agent then customer
//	<call>/original.wav                 sealed when the call ends
//
// A recorder that stops mid-call has written its parts; one started again
// goes on with the call in a new session (a new call clock) and the sealed
// file names the gap between them (WAV LIST/INFO ICMT "gaps_ms=S-E,...").
// Recording a leg's audio on the bus instead would double capture's
// publishing for no reader but the recorder.
//
// The redacted recording is written beside the recorder, from what the
// store says over the bus: once a call's final characteristics (which
// follow every final segment) are committed, the store publishes the
// call's AudioRedaction on earshot.redaction.<call>, read from what it
// committed, so no segment of the call is left out. The recorder's side
// (a durable consumer in the process that records) keeps the spans as
//
//	<call>/mask.json                    the AudioRedaction's spans
//	<call>/redacted.wav                 the original with the spans masked
//
// and writes the redacted copy at once if the call is sealed, else when it
// is sealed: the two may come in either order, in one process or two.
//
// # Redaction
//
// Personal data (card numbers, account numbers, phone numbers, ...) is
// masked by one shared redactor (package redact) wherever text leaves Earshot
// for someone who may not read originals; originals stay on the bus, where
// only stages read them, and reach a person only on an admin's request.
//
//   - Segment text on earshot.transcript and earshot.analysis is the original:
//     the ui redacts it for every viewer but admins asking for originals, and
//     the store keeps it redacted (the original apart, only under the
//     redacted-and-original policy, as StoredSegment.Original).
//   - Text the rules stage writes is redacted before it is published: an
//     Alert's Message and its matches' Text, a Category's and a RuleEvent's
//     matches, and every webhook body. Alert.Original carries the unredacted
//     message and match text on earshot.alert for admins; webhooks and rule
//     events never carry originals. The ui drops Alert.Original for everyone
//     but admins asking for originals, and redacts alert text again before
//     showing it (a rules process of an older build did not); the store keeps
//     alerts redacted only.
package msg
