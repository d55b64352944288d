package remote

import (
	"net"
	"net/http"
	"sync"
)

// idleConns bounds the server's connections that carry no request: new
// ones that have not yet sent one (nor finished their TLS handshake), and
// idle keep-alive ones. Left unbounded, anyone who can reach the port
// could hold a file descriptor each until HeaderTimeout, and run the
// process out of them; bounded by refusing new connections (a plain limit
// listener), the same peer would lock every client out. So when a
// connection would exceed the bound, the oldest such connection is closed
// instead: a real client's next request goes out on a fresh one (the HTTP
// transport retries a request it could not send on a closed idle
// connection, and the client retries what remains). Connections with a
// request in flight (a long poll) are never counted nor closed.
//
// Its hook is http.Server.ConnState, which the server calls for StateNew
// from its accept loop, before serving the connection. The fields are
// guarded by mu; a connection is closed after mu is released.
type idleConns struct {
	max int

	mu   sync.Mutex
	seq  uint64
	idle map[net.Conn]uint64 // connection → when it last became new or idle
}

func newIdleConns(max int) *idleConns {
	return &idleConns{max: max, idle: make(map[net.Conn]uint64)}
}

// hook is the http.Server.ConnState of a server bounded by c.
func (c *idleConns) hook(conn net.Conn, state http.ConnState) {
	var evict net.Conn
	c.mu.Lock()
	switch state {
	case http.StateNew, http.StateIdle:
		c.seq++
		c.idle[conn] = c.seq
		if len(c.idle) > c.max {
			evict = c.oldest()
			delete(c.idle, evict)
		}
	default: // active, hijacked, closed
		delete(c.idle, conn)
	}
	c.mu.Unlock()
	if evict != nil {
		evict.Close()
	}
}

// oldest returns the connection that has waited longest. c.mu is held.
func (c *idleConns) oldest() net.Conn {
	var (
		old net.Conn
		at  uint64
	)
	for conn, seq := range c.idle {
		if old == nil || seq < at {
			old, at = conn, seq
		}
	}
	return old
}

// count returns the number of connections without a request.
func (c *idleConns) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.idle)
}
