// Package remote carries the pool protocol: a Server serves a pool.Pool
// and its blob repository over HTTP, and a Client is a pool.Pool whose
// every method is a call to such a server. A worker (ebb worker) serves
// its machine's pool this way; a driver holds a Client per worker.
//
//	driver                                   worker
//	Client ──HTTPS, bearer token──▶ Server ──▶ pool/local + repository
//	  │ Offers, Accept, Keepalive, Put, Wait (long poll), Logs (stream),
//	  │ concurrent Puts, Waits and Removes of an alloc in batches
//	  │ blobs by digest: inputs in, outputs out
//	Registry ◀──POST /v1/workers── ebb worker -driver URL (announce)
//
// # Endpoints
//
// Every path starts with /v1. Bodies are JSON but for blob contents and
// logs, which are bytes. IDs in paths are path-escaped.
//
//	method  path                                     call                answer
//	GET     /v1/pool                                 ID, Capacity        {id, capacity, extensions}
//	GET     /v1/offers                               Pool.Offers         [{id, available}]
//	POST    /v1/offers/{offer}/accept                Offer.Accept        {id, resources}
//	GET     /v1/allocs                               Pool.Allocs         [{id, resources}]
//	GET     /v1/allocs/{alloc}                       Pool.Alloc, Inspect pool.AllocInspect
//	DELETE  /v1/allocs/{alloc}                       Alloc.Free          204
//	POST    /v1/allocs/{alloc}/keepalive             Alloc.Keepalive     {lease_ns} → {lease_ns}
//	GET     /v1/allocs/{alloc}/execs                 Alloc.Execs         [exec ID]
//	PUT     /v1/allocs/{alloc}/execs/{exec}          Alloc.Put           pool.ExecConfig → pool.ExecInspect
//	GET     /v1/allocs/{alloc}/execs/{exec}          Alloc.Exec, Inspect pool.ExecInspect
//	DELETE  /v1/allocs/{alloc}/execs/{exec}          Alloc.Remove        204
//	GET     /v1/allocs/{alloc}/execs/{exec}/wait     Exec.Wait           ?timeout=20s → {done, result}
//	POST    /v1/allocs/{alloc}/execs/{exec}/kill     Exec.Kill           204
//	GET     /v1/allocs/{alloc}/execs/{exec}/logs     Exec.Logs           ?stream=stdout|stderr&follow=true → bytes
//	POST    /v1/allocs/{alloc}/execs:batch           Put, Remove, Wait   {ops: [{op, id, config}]} → {items}
//	GET     /v1/allocs/{alloc}/execs:wait            Exec.Wait, many     ?timeout=20s&id=ID&id=ID… → {items}
//	POST    /v1/blobs                                Repository.Put      bytes → {digest}
//	GET     /v1/blobs/{digest}                       Repository.Get      bytes
//	GET     /v1/blobs/{digest}/stat                  Repository.Stat     {digest, size}
//	POST    /v1/blobs/{digest}/holders               Repository.Hold     {size, holder} → 204
//	GET     /v1/blobs/{digest}/holders               Repository.Holders  {size, holders}
//	POST    /v1/workers                              Announce (Registry) Announcement → 204
//
// Wait is a long poll: the server waits up to the asked timeout (at most
// ServerConfig.MaxWait) and answers {"done": false} if the exec is still
// running; the client asks again. Logs and blob contents stream; an error
// met after the stream began comes in the Ebb-Error trailer. Accept
// carries an Idempotency-Key header (see below).
//
// The last two are the batch extension (see Batches).
//
// # Errors
//
// An error travels as a status and {"kinds": [...], "message": "..."}.
// The kinds name the ebb error kinds the server's error wrapped, all of
// them, and the client's error wraps the same kinds, so errors.Is works
// across the wire:
//
//	invalid 400, resources 422, offer-gone 409, not-exist 404,
//	expired 410, closed 410, corrupt 500, unavailable 503,
//	unauthenticated 401 (ErrAuth on the client, which wraps ebb.ErrInvalid)
//
// A call on an alloc the server's pool no longer knows fails with
// expired, as it would on the alloc itself. A status without kinds (from
// a proxy) is read alone: 502, 503 and 504 are unavailable, 401 and 403
// ErrAuth, 500 of no kind, anything else invalid.
//
// # Batches
//
// The batch extension carries many calls on one alloc in one request. A
// server that has it names "batch" among the extensions of its pool info
// (GET /v1/pool), which Dial reads. A client of a server that does not
// (one that predates the extension), or with ClientConfig.NoBatch, makes
// every call a request of its own, as before.
//
// execs:batch carries puts, removes, and waits that do not wait:
//
//	{"ops": [{"op": "put", "id": ID, "config": ExecConfig},
//	         {"op": "wait", "id": ID}, {"op": "remove", "id": ID}]}
//
// The server makes them concurrently, as it would separate requests, and
// answers one item per op, in order: {"inspect": ExecInspect} for a put,
// {"result": Result} for a wait on an exec that is done and {} for one
// that runs, {} for a remove; or, for an op that failed, {"status": 409,
// "error": {"kinds": [...], "message": "..."}}, the status and error its
// own call would have answered, so that errors.Is works per op. One op's
// failure does not fail the others. A failure of the whole request (the
// alloc has ended, a malformed body, a refused token) fails every op, as
// it would have failed each call; a draining server fails the puts alone.
//
// execs:wait is a long poll on many execs, named by repeated id query
// parameters (the client asks for at most 100, so that the URL stays
// within 8 KiB), with the timeout of a single wait. The server answers
// once one is done, with an item for each exec done by then, {"id": ID,
// "result": Result} or {"id": ID, "status": 404, "error": {...}}; or with
// no item once the timeout passed, or the server shuts down. When none is
// done as the poll comes, it sends its headers at once with "Ebb-Wait:
// parked", and the body later, so that the client knows the poll waits.
//
// The client coalesces the calls on each alloc handle by group commit. A
// Put or Remove made while none of the alloc's is in flight goes at once
// and alone (PUT, DELETE): a caller without company pays nothing for
// batching. Those made while one is in flight queue, and go together as
// one execs:batch once it is answered, or once it has held them back for
// ClientConfig.BatchHold (a put staging big inputs does not hold up the
// others for long); a Wait made then rides along, and returns if its
// exec is done. Waits coalesce the same way into execs:wait polls, but a
// poll holds the next one back only until the server answers or parks
// it: the waits that come while a poll is parked go in a poll of their
// own, and the execs a poll did not return are polled again with the
// waits queued then. A batch of queued calls is sent by a goroutine of
// the client's, which ends once nothing is queued. A caller whose context
// ends leaves its batch at once, and the others' calls go on; a batch's
// request is cancelled once its last caller has left. A batch is retried
// as a single call is, and as safely: puts are idempotent on the exec ID,
// and a remove that a retry finds gone returns nil.
//
// # Authentication
//
// Every request carries "Authorization: Bearer TOKEN"; the server compares
// it with its own in constant time (both hashed first, so neither content
// nor length leaks). A request without it, or with another, gets 401 and
// is not looked at further: no route, no body read, nothing changed. A
// worker serves TLS: with its own certificate, or a fresh self-signed one
// whose SHA-256 fingerprint (the pin, see Fingerprint) it prints with its
// address and announces; the client checks the server's certificate
// against the pin (ClientConfig.Pin) or against CAs (ClientConfig.TLS).
// With ServerConfig.ClientCAs the server also requires a client
// certificate signed by one of them (mutual TLS), checked per request so
// that a refusal is a clean 401 rather than a broken handshake. The token
// is required either way.
//
// # Timeouts and retries
//
// Every call is bounded by ClientConfig.Timeout, retries included; so are
// dialing and the TLS handshake. A Wait poll may take WaitPoll longer,
// and a stream's body is bounded only by its context. A peer that
// vanished, or froze, thus fails calls with ebb.ErrUnavailable within
// Timeout instead of hanging them. A client whose server may be away a
// while and come back (a worker's client of its driver's repository,
// across the driver's resumption) sets RetryFor longer than Timeout: its
// calls then keep retrying the transient failures below for that long.
//
// Transient failures are retried with exponential backoff (RetryMin to
// RetryMax, within Timeout or RetryFor): a refused or reset connection, a timeout, a
// response cut short, a bare 502, 503 or 504. Answers of the server's own
// are not retried, not even ebb.ErrUnavailable (a draining worker): the
// caller's policy decides when to ask again. Neither is a refused
// certificate or token (ErrAuth), nor, for Peers, a refused connection: a
// worker's peer server that refuses has stopped, and the blobs it held
// are looked for elsewhere at once.
//
// Every call is safe to retry, even when an attempt may have reached the
// server: reads, Keepalive and Kill by their nature; Put because it is
// idempotent on the exec ID; a blob Put because blobs are named by their
// content (a body is sent again only if it is an io.Seeker); Accept
// because its request carries a random idempotency key, under which the
// server remembers its answer for ServerConfig.AcceptWindow, so a retry
// gets the alloc the lost attempt took instead of a second one; Free and
// Remove because, when a retry finds the alloc or exec already gone, the
// lost attempt did the job and the call returns nil.
//
// ClientConfig.Gone lets a caller that knows a server is gone for good
// (cluster/procs, which watches its worker processes) make every call
// fail at once: ebb.ErrExpired on allocs and execs, so their holders
// requeue the work, and ebb.ErrClosed on the pool.
//
// # Workers
//
// A worker prints ListeningLine once it serves, so a parent process
// reads where to connect; or it announces itself (Announcement) to its
// driver's Registry, so a worker in a batch queue needs no inbound route
// until it has called home. Server.Drain makes it take nothing new,
// Server.WaitIdle tells it when nobody has held a lease for a while, and
// Server.Serve shuts down gracefully, ending long polls at once.
//
// # Peers
//
// A worker may keep its outputs instead of sending them to its driver: its
// blob cache (local.BlobCache) has a PeerOrigin, which tells the driver's
// repository (a repository.Located, served by a Server) that the worker
// holds the blob (Hold). Another worker that needs it asks the driver who
// holds it (Holders) and fetches it from there, through Peers, from the
// holder's PeerServer:
//
//	GET     /v1/peer/blobs/{digest}                  Peers.Open          bytes
//	GET     /v1/peer/blobs/{digest}/stat             Peers.Stat          {digest, size}
//
// A PeerServer answers the run's peer token, which every worker of the
// run holds, not a worker's own token (which opens its pool): a peer
// reads blobs, by digest, and nothing else. Content is checked against
// its digest at every hop, so a holder can withhold a blob but not forge
// one. The driver copies into its own store only the outputs its caller
// asked for (runner: the sinks'); an intermediate whose holders are all
// gone is made again.
//
// InProcess connects a Client to a Server without a socket, so that both
// run in a testing/synctest bubble: the conformance suite's lease
// subtests run over the protocol that way, on fake time.
package remote
