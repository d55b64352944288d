// Package dashboard shows a run as it goes: a page, served by an
// [http.Handler] that a program mounts in its own server (ebb run -ui
// serves one), that updates live in every browser looking at it.
//
// The page shows the run's phase and progress; its tasks by state and by
// kind, with how long each kind is expected to run and how long it did;
// each alloc's life on a timeline (the primary and the auxiliary ones,
// with their engine and shape); the capacity the run held against what
// its work asked for, over time; the stealer's decisions with their
// reasons; and the workers of an elastic cluster.
//
// Words:
//
//   - Source: where a Dashboard learns about a run: its flow, its event
//     bus (runner.EventBus), and a status it polls (the runner's State and
//     Progress, the elastic cluster's workers). [RunSource] is one over a
//     runner.Runner.
//   - View: what the page shows, as of one moment: one JSON document,
//     built by the Dashboard's own loop at most once an Interval, and the
//     same bytes are sent to every viewer.
//   - Viewer: a browser (or any client) following the view, over
//     server-sent events (GET events) or by polling (GET view).
//
// # Cost to the run
//
// The run publishes each event to one subscription, the Dashboard's, and
// never waits for it (a Dashboard that falls behind loses events and
// says how many). Viewers never touch the run: each one is a goroutine of
// the HTTP server that writes the latest view's bytes when a new one is
// made, so a hundred viewers cost the run nothing more than one
// (BenchmarkDispatchViewers measures it).
//
// # Access
//
// The handler is read-only: it answers GET and HEAD, nothing else. A
// request that reaches it on a loopback address (127.0.0.1, ::1) with a
// loopback Host needs nothing more; any other needs the Config's Token,
// as a "token" query parameter or an "Authorization: Bearer" header. With
// no Token set, only loopback requests are served.
//
// The page, its script and its style are embedded in the binary; nothing
// is fetched from anywhere else, and its charts are SVG drawn by its own
// script.
package dashboard
