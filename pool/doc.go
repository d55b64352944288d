// Package pool defines where work runs: a [Pool] holds resources and carves
// leased reservations ([Alloc]) out of them through [Offer]s, and an alloc
// runs [Exec]s, one per task.
//
//	Pool ──Offers──▶ Offer ──Accept──▶ Alloc ──Put──▶ Exec ──Wait──▶ Result
//	                                     │
//	                        Keepalive (renew the lease) / Free
//
// Vocabulary:
//
//   - An Offer is what a pool can give right now. Accept turns it into an
//     alloc; when another client took the offer first, Accept fails with
//     [ebb.ErrOfferGone] and the caller asks for offers again.
//   - An Alloc is a lease: it lives while its holder calls Keepalive and
//     expires when the lease lapses. Free and expiry both kill the alloc's
//     execs and return its resources to the pool.
//   - An Exec is one task inside an alloc: a command run as a process, or a
//     Go function for embedded use. Put is idempotent on the exec's ID (the
//     task digest), so a driver that restarts re-attaches to the exec it
//     started instead of running it twice.
//
// [Allocate] picks the best-fitting offer of a pool and accepts it, retrying
// lost races; [Keepalive] renews an alloc's lease until its context ends.
// Package pool/local is the embedded pool on this machine, and pool/pooltest
// holds the conformance suite every Pool must pass and an in-memory pool
// with fault controls for tests.
package pool
