// Package rules owns Earshot's rule language and its evaluation: parsing and
// checking YAML rule files, matching many rules at once with one
// Aho-Corasick automaton, evaluating rules in real time on each call's
// events, again when the call ends, and as a dry run against stored calls;
// and the actions rules take (alerts, categories, NATS events, webhooks).
//
// # Rule files
//
// A rule file is YAML: a list of rules, each with match groups and actions.
// Groups are ANDed, the lines inside a group ORed, and any line negated.
// See README.md ("Rules") for the language, and testdata/ for examples.
//
// # Rules in force
//
// The rules in force live in the NATS KV bucket msg.BucketRules (shared.go):
// [Push] (earshot rules push) and [Manager.Activate] (the web view) put
// validated text there, and every engine's manager watches it and swaps its
// rules live. A rules file, when given, is pushed at start and when it
// changes, and kept up to date with what is in force.
//
// # Text
//
// Transcript text and rule phrases go through the same normalisation
// (see [Tokenize]): lower case, punctuation dropped, English plurals folded
// to the singular, English number words turned into digits, Korean particles
// stripped. Matching is then exact on whole normalised words.
//
// # Consistent views
//
// A rule set is immutable once built. Each call pins the rule set in force
// when its first event arrives and evaluates every later event, and its
// post-call evaluation, against that same set; a reload (a push, file
// change, NATS request or web view activation) applies to calls that start
// afterwards.
package rules
