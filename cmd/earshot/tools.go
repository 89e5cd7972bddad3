package main

import "context"

// tools are the commands that are not pipeline stages.
func tools() map[string]command {
	return map[string]command{
		"replay":      {"FILE.pcap --to ADDR [--speed N|max]: send a capture's RTP streams", replayCmd},
		"load":        {"--to ADDR --calls N --duration D [--ramp R] [--scripts DIR] [--announce URL] [--json]: play scripted calls as N concurrent calls and count what was sent", loadCmd},
		"send":        {"--agent A.wav --customer B.wav --to ADDR [--call ID]: send WAV files as G.711 RTP", sendCmd},
		"transcribe":  {"FILE.wav...: transcribe recordings to JSON lines, with a progress bar", transcribeCmd},
		"rules":       {"check FILE... | dryrun RULES.yaml --data DIR|--db DSN|--calls PATH [--from T --to T]: validate rule files, or try them on stored calls", rulesCmd},
		"forms":       {"check FILE... | score FORM.yaml --calls PATH: validate evaluation forms, or score stored calls with one", formsCmd},
		"sentiment":   {"score lines of text on stdin, one JSON line each", sentimentCmd},
		"redact":      {"[--language ko|en|auto] mask personal data in lines of text on stdin, one JSON line each", redactCmd},
		"search":      {"[--data DIR | --server URL] QUERY [filters] [--json]: search past calls", searchCmd},
		"deadletters": {"list | replay (SEQ... | --all) [--stage S]: what the stages gave up on, and sending it again", deadLettersCmd},
		"users":       {"reset-password NAME [--nats URL | --data DIR]: give a web view user (the admin) a new one-time password", usersCmd},
		"version":     {"the release, the Go that built it, and whether the whisper engine is in", versionCmd},
	}
}

// waitDone is the runner of a stage with nothing to run yet.
func waitDone(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
