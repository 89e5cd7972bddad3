package msg

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Message is implemented by every JSON message type.
type Message interface {
	// Schema names the message's schema and the version this build writes.
	Schema() (name string, version int)
}

// Errors returned by Unmarshal and DecodeUtterance, for errors.Is.
var (
	ErrMalformed     = errors.New("malformed message")
	ErrWrongSchema   = errors.New("wrong schema")
	ErrNewerVersion  = errors.New("newer schema version than this build knows")
	ErrInvalidField  = errors.New("invalid field")
	ErrInvalidCallID = errors.New("invalid call id")
)

// Errors shared across stage boundaries, so that a caller can tell them
// apart without importing the stage that returned them.
var (
	// ErrNotFound: no such call (or other record).
	ErrNotFound = errors.New("not found")
	// ErrBadQuery: a search query or filter the user must fix; the error
	// says where.
	ErrBadQuery = errors.New("bad query")
)

type envelope struct {
	Schema string          `json:"schema"`
	V      int             `json:"v"`
	Data   json.RawMessage `json:"data"`
}

// Marshal wraps m in its versioned envelope.
func Marshal(m Message) ([]byte, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("msg: marshal: %w", err)
	}
	// The envelope is written by hand: json.Marshal would compact and
	// re-validate data, which json.Marshal just produced. Schema names are
	// constants of this package, plain ASCII with nothing to escape.
	name, v := m.Schema()
	out := make([]byte, 0, len(name)+len(data)+32)
	out = append(out, `{"schema":"`...)
	out = append(out, name...)
	out = append(out, `","v":`...)
	out = strconv.AppendInt(out, int64(v), 10)
	out = append(out, `,"data":`...)
	out = append(out, data...)
	return append(out, '}'), nil
}

// Unmarshal checks the envelope's schema and version and decodes its data into m.
func Unmarshal(b []byte, m Message) error {
	want, known := m.Schema()
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("msg: %w: %v", ErrMalformed, err)
	}
	if env.Schema != want {
		return fmt.Errorf("msg: %w: %q where %q was expected", ErrWrongSchema, env.Schema, want)
	}
	if env.V < 1 {
		return fmt.Errorf("msg: %w: %s version %d", ErrMalformed, env.Schema, env.V)
	}
	if env.V > known {
		return fmt.Errorf("msg: %w: %s v%d, this build knows v%d", ErrNewerVersion, env.Schema, env.V, known)
	}
	if len(env.Data) == 0 {
		return fmt.Errorf("msg: %w: %s has no data", ErrMalformed, env.Schema)
	}
	if err := json.Unmarshal(env.Data, m); err != nil {
		return fmt.Errorf("msg: %w: %s data: %v", ErrMalformed, env.Schema, err)
	}
	return nil
}

// SchemaOf reads only the envelope's schema name and version, for consumers
// that receive several message types on one subscription.
func SchemaOf(b []byte) (name string, version int, err error) {
	var env struct {
		Schema string `json:"schema"`
		V      int    `json:"v"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return "", 0, fmt.Errorf("msg: %w: %v", ErrMalformed, err)
	}
	if env.Schema == "" {
		return "", 0, fmt.Errorf("msg: %w: no schema", ErrMalformed)
	}
	return env.Schema, env.V, nil
}
