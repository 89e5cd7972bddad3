// Package ui owns what people see of Earshot: the live board, the call
// view, search and rules pages, the JSON API and server-sent event streams
// behind them, and who may see what (users, roles, sessions, API tokens).
//
// # Data
//
// Live state comes from NATS: [Server.Run] follows the EARSHOT_EVENTS stream
// with an ordered consumer that starts [Config.Lookback] in the past, so a
// restarted ui rebuilds the calls still going on, and then pushes every
// event to the browsers that watch it. Finished calls, search and rules come
// from the [Store] and [Rules] interfaces, which cmd/earshot wires to the
// store and rules stages; either may be nil, and the pages then say so.
//
// # Roles
//
// Four roles, after Contact Lens's security profiles:
//
//	agent       the live board and call view of their own calls; search and dashboard over them
//	supervisor  the live board, every call, search, dashboards; redacted text
//	analyst     search, every call (redacted), dashboards, rules
//	admin       everything, users and tokens, and original (unredacted) text
//
// GET /api/ui/dashboard answers the store's dashboard figures (from, to,
// step, group_by, agent, queue, tz_offset_minutes; format=csv for the table
// behind the charts); an agent's is always of their own calls.
//
// Users, API tokens and sessions live in NATS KV ([OpenAccounts]: the
// buckets [UsersBucket] and [SessionsBucket]), so any number of ui
// processes serve the same users and a restart logs nobody out; each keeps
// a copy of the users by watching their bucket. Without [Config.Accounts]
// they are in the process's memory only.
//
// Browsers log in with a password (bcrypt) and get a session cookie
// (HttpOnly, SameSite=Strict, Secure under TLS or [Config.SecureCookies});
// every state-changing request from a session carries its CSRF token in the
// X-CSRF-Token header. Machines use API tokens: Authorization: Bearer. Only
// /login and the static assets are open; [Server.Require] puts other
// handlers behind the same login. Wrong passwords are throttled per user
// name and per source address, in bounded memory, as every ui process on
// the same NATS saw them ([LoginSubject]); deleting a user, changing
// their role, agent name or password, revoking a token or logging out ends
// the event streams already open with it, in every ui process (revoke.go).
//
// # Languages
//
// Every label, message, date and duration is in the reader's language,
// English or Korean: the user's own setting (the header's control, or an
// admin on the Users page), else the browser's Accept-Language. Each
// language has one message catalogue, assets/i18n/LANG.json, keyed alike
// (a test keeps the keys and their {placeholders} the same, and checks that
// every key the pages, scripts and handlers use exists). Pages are
// templates whose labels come from the catalogue ({{t "key"}}) and which
// carry the catalogue for their script; scripts fill named placeholders
// (t("key", {count: n})), choose plural forms with Intl.PluralRules and
// format dates with Intl.DateTimeFormat. Errors the pages show carry their
// catalogue key beside the English message: {"error", "key", "params"}.
//
// # Escaping
//
// Transcript text, agent names, rule names and alert messages are hostile
// input. The pages build the DOM with text nodes only (never innerHTML),
// responses carry a Content-Security-Policy that allows no inline script,
// and JSON is written with HTML characters escaped.
package ui
