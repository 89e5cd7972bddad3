// Package store owns what Earshot keeps about calls and how it is found
// again: the Store interface (implemented by store/sqlite, the embedded
// default, and store/postgres, for scaled-out deployments; both pass
// store/storetest), the Archiver that consumes call events from NATS, redacts
// them (redact) and writes them idempotently and announces each call whose
// analysis is all stored (msg.CallStored), the saved versions of evaluation
// forms (Forms), the search query syntax, retention, dashboards (aggregated
// in SQL, from daily and weekly rollups kept in step with every write where
// they answer), and the HTTP JSON API over search and call records.
//
// # Query syntax
//
//	refund                    the word
//	"cancel my subscription"  the words in this order
//	refun*                    a word starting with refun
//	refund manager            both (in the same turn); AND may be written
//	refund OR credit          either
//	refund NOT manager        refund without manager; -manager is the same
//	(refund OR credit) -fee   parentheses group
//
// Operators are written in capitals. Words are matched whole, letters and
// digits only, case-insensitively, without stemming, in both stores alike.
// A query is at most MaxQueryLen bytes and searches for at most
// MaxQueryWords words once repeats are dropped; a search runs at most
// MaxSearchTime (or the store's SearchTimeout). Over any of them it is
// refused as a bad query that names the limit.
//
// # HTTP API
//
//	GET /api/search?q=...&agent=...&queue=...&from=RFC3339&to=RFC3339&leg=customer
//	    &min_sentiment=-5&max_sentiment=0&min_shift=&max_shift=&category=...
//	    &has_alert=true&min_non_talk_ms=...&attr=key:value&min_score=0&max_score=100
//	    &answer=question:answer&csat=1..5&limit=20&offset=0
//	GET /api/calls/{id}
//
// Both answer JSON (msg.SearchResults, msg.CallRecord); errors are
// {"error": "..."} with 400 for a bad query (saying where), 404 for an
// unknown call.
package store
