// Package record owns call recordings: the recorder that writes each call's
// two legs as it goes, and the Store the recordings live in (a directory by
// default, NATS JetStream's object store when scaled out).
//
// # Store
//
// A [Store] keeps named objects. Put is all or nothing: an object is
// readable only once all of it is written, and a failed Put leaves the
// previous object (or none). Open reads from an offset, which is how
// range requests are served. Every implementation passes the one
// conformance suite, recordtest.Run.
//
// # Redaction
//
// A [Redactor] writes a call's redacted recording from the spans the
// store publishes once the call's analysis is final (msg.AudioRedaction,
// applied with [Redactor.Apply]) and the sealed original, whichever comes
// last: Apply keeps the spans (MaskName) and masks the recording if it is
// sealed; a [Recorder] given the Redactor masks it when it seals. So the
// two may run in one process or two, in either order.
//
// # Names
//
// Object names are paths of segments made of letters, digits, '.', '_' and
// '-', separated by '/'; no segment is "." or "..". [CheckName] says so.
package record
