// Package transcribe owns Earshot's transcription stage: the Engine
// interface that turns 16 kHz audio into text, the guard that keeps silence
// and whisper's known hallucinations out of transcripts, the resampler that
// brings telephone audio (and WAV files of any rate) to the engine's rate,
// and the Worker that takes utterance jobs from the JetStream work queue and
// publishes one segment per job.
//
// # Engines
//
// Engines live in sub-packages: transcribe/whisper runs whisper.cpp in
// process (cgo, built with -tags whisper) and transcribe/httpasr calls any
// server speaking the OpenAI-compatible POST /v1/audio/transcriptions.
//
// # Delivery
//
// A job is acked only after its segment is stored by JetStream, so a worker
// that dies mid-job leaves the job to be redelivered to another worker.
// Segments are published with a message id derived from the job, so a job
// redelivered after its segment was stored (but before the ack) is not
// published twice within the stream's duplicate window. Every final job
// yields exactly one final segment: with text, with Dropped set (silence, a
// hallucination), or with Error set when the job is dead-lettered.
package transcribe
