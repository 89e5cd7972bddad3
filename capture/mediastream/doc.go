// Package mediastream is capture's intake for WebSocket media streams in
// the Twilio Media Streams message set (also spoken by Telnyx, SignalWire
// and Plivo): JSON text messages connected, start, media, dtmf, mark and
// stop, with base64 G.711 at 8 kHz per track.
//
// One WebSocket connection is one stream; its start names the call
// (callSid), its tracks and its format, and its customParameters become
// the call's agent ("agent"), queue ("queue") and attributes (the rest).
// Track inbound is the customer and outbound the agent unless
// Config.Inbound and Config.Outbound say otherwise. Each media chunk's
// timestamp (ms since the stream started) places it on the call clock, so
// a gap between chunks is silence. A stop, or the connection closing, ends
// the stream's legs, and the call ends once all its legs have.
//
// The upgrade request must carry a bearer token or an X-Twilio-Signature
// (HMAC-SHA1 of the URL); others get 401. A message that is not of the
// protocol (binary, not JSON, a start that names no call, media before
// start) closes the stream with a close reason that says why; a chunk
// whose payload or timestamp does not decode is dropped and the stream
// goes on. Each refusal is counted by capture (intake mediastream).
package mediastream
