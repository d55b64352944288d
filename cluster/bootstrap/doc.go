// Package bootstrap is the driver's end of workers that an engine starts
// somewhere the driver cannot see: a Slurm job, a user's command, a pod.
// Such a worker is `ebb worker` started with -driver: once it serves, it
// announces its address, certificate pin and capacity to the driver, so
// the driver needs no route to it before it calls. Providers (the slurm and
// command packages) build on it:
//
//	b := bootstrap.New(cfg)                  the driver listens for announcements
//	e := b.Expect(id, shape)                 a fresh token; e.Argv, e.Env
//	   engine starts e.Argv with e.Env ───▶  ebb worker -id ID -driver URL …
//	                                            │ serves its pool, then
//	   Registry (POST /v1/workers) ◀── announce {url, pin, resources}, up
//	e.Wait(ctx) ── dial (pinned TLS, the worker's token) ──▶ *remote.Client
//	   ·
//	worker drains ── announce leaving ──▶ e.Gone() closes: the client's
//	                                       calls on allocs fail ErrExpired
//
// Each expected worker has its own token: it reaches the worker through
// its environment (EBB_TOKEN in e.Env, never in e.Argv, which engines show
// to everyone), the worker serves with it, and it announces with it. The
// registry takes an announcement only from the worker whose token it
// carries, for the ID that worker was given; anything else gets 401 or
// is refused as invalid, and changes nothing.
//
// A worker's execs stage their inputs from, and store their outputs to,
// a repository the driver reads: a directory both share
// (Config.Repository), or the driver's own, which the bootstrap serves
// beside the announcements to each expected worker with that worker's
// token (Config.Blobs, the worker's -driver-blobs).
//
// The driver serves TLS with a fresh self-signed certificate whose pin
// the worker gets on its command line (-driver-pin); a pin is not a
// secret. Config.NoTLS serves plain HTTP instead, for loopback and tests.
package bootstrap
