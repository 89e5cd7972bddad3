package store

import (
	"context"
	"time"

	"github.com/earshot-dev/earshot/msg"
)

// Reader is the read side: search, call records and dashboards. The ui and
// rules stages declare the methods they use where they use them.
type Reader interface {
	// Search returns one page of the calls matching q, best first. A query
	// the user must fix is an error wrapping msg.ErrBadQuery.
	Search(ctx context.Context, q msg.SearchQuery) (msg.SearchResults, error)
	// Call returns everything kept about a call, or an error wrapping
	// msg.ErrNotFound. original fills StoredSegment.Original (and DTMF
	// digits) where the redaction policy kept them; the caller decides
	// whether the reader may see them.
	Call(ctx context.Context, callID string, original bool) (msg.CallRecord, error)
	// Dashboard aggregates the figures of the calls q selects, in SQL. A
	// query the user must fix is an error wrapping msg.ErrBadQuery
	// (CheckDashboardQuery).
	Dashboard(ctx context.Context, q msg.DashboardQuery) (msg.Dashboard, error)
	// EndedCalls returns the ids of at most limit ended calls that
	// started in [from, to), in id order, after the id after ("" from the
	// first): re-scoring walks a time range with it.
	EndedCalls(ctx context.Context, from, to time.Time, after string, limit int) ([]string, error)
}

// Forms keeps every saved version of the evaluation forms.
type Forms interface {
	// SaveForm keeps f as its form's next version (1 for the first) and
	// returns it with Version set.
	SaveForm(ctx context.Context, f msg.SavedForm) (msg.SavedForm, error)
	// FormVersions returns a form's versions, newest first; none is an
	// error wrapping msg.ErrNotFound.
	FormVersions(ctx context.Context, form string) ([]msg.SavedForm, error)
	// FormsAt returns, for every form, its newest version saved at or
	// before at, ordered by form id.
	FormsAt(ctx context.Context, at time.Time) ([]msg.SavedForm, error)
}

// Writer is what the archiver writes. Every method is idempotent: writing the
// same message again changes nothing, so a redelivery never duplicates.
// Text given to a Writer is already redacted.
type Writer interface {
	// PutCall merges a call event into the call's record: a start or
	// update sets what it carries, an end also sets the end.
	PutCall(ctx context.Context, ev msg.CallEvent) error
	// PutSegment keeps a final segment, keyed by its ID. A segment without
	// sentiment never clears the sentiment already kept. seg.Original is
	// kept apart, only when not empty.
	PutSegment(ctx context.Context, seg msg.StoredSegment) error
	// PutAlert keeps an alert, keyed by its ID.
	PutAlert(ctx context.Context, a msg.Alert) error
	// PutCategories adds the categories to the call's (keyed by name).
	PutCategories(ctx context.Context, c msg.Categories) error
	// PutCallSentiment keeps the call's latest sentiment (a final one wins).
	PutCallSentiment(ctx context.Context, s msg.CallSentiment) error
	// PutCharacteristics keeps the call's latest characteristics (a final one wins).
	PutCharacteristics(ctx context.Context, c msg.Characteristics) error
	// PutDTMF keeps a DTMF event, keyed by call, leg and start; the digit
	// given is the one shown (masked by the archiver), original is kept
	// apart when not empty.
	PutDTMF(ctx context.Context, ev msg.DTMFEvent, original string) error
	// PutEvaluation keeps a call's evaluation, keyed by call and form;
	// an older one (by ScoredAt) never replaces a newer.
	PutEvaluation(ctx context.Context, ev msg.Evaluation) error
	// PutSurvey keeps a call's survey answers, replacing those of the
	// same survey kept before.
	PutSurvey(ctx context.Context, r msg.SurveyResult) error
	// DeleteBefore deletes every call that started before cutoff, with
	// everything kept about it, and returns how many calls it deleted.
	DeleteBefore(ctx context.Context, cutoff time.Time) (int, error)
}

// Batcher is a Writer that can join writes in one transaction: Batch runs
// f with a context in which every write joins it, committed when f
// returns nil and rolled back otherwise.
type Batcher interface {
	Batch(ctx context.Context, f func(ctx context.Context) error) error
}

// Store is a place calls are kept: the archiver writes it, search reads it.
type Store interface {
	Reader
	Writer
	Forms
	// Close releases the store; it is safe to call more than once.
	Close() error
}

// Search limits.
const (
	DefaultLimit = 20
	MaxLimit     = 100
	// MaxOffset bounds pagination depth.
	MaxOffset = 10000
	// SnippetsPerHit is how many matching segments a hit shows at most.
	SnippetsPerHit = 3
	// MaxSearchTime bounds one search by default; over it the search
	// is refused as a bad query (the caller should narrow it).
	MaxSearchTime = 5 * time.Second
)
