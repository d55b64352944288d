package remote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// routes registers every endpoint; the package doc lists them.
func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET "+prefix+"/pool", s.serve(s.getPool))
	m.HandleFunc("GET "+prefix+"/offers", s.serve(s.listOffers))
	m.HandleFunc("POST "+prefix+"/offers/{offer}/accept", s.serve(s.accept))
	m.HandleFunc("GET "+prefix+"/allocs", s.serve(s.listAllocs))
	m.HandleFunc("GET "+prefix+"/allocs/{alloc}", s.serve(s.inspectAlloc))
	m.HandleFunc("DELETE "+prefix+"/allocs/{alloc}", s.serve(s.free))
	m.HandleFunc("POST "+prefix+"/allocs/{alloc}/keepalive", s.serve(s.keepalive))
	m.HandleFunc("GET "+prefix+"/allocs/{alloc}/execs", s.serve(s.listExecs))
	m.HandleFunc("PUT "+prefix+"/allocs/{alloc}/execs/{exec}", s.serve(s.put))
	m.HandleFunc("GET "+prefix+"/allocs/{alloc}/execs/{exec}", s.serve(s.inspectExec))
	m.HandleFunc("DELETE "+prefix+"/allocs/{alloc}/execs/{exec}", s.serve(s.remove))
	m.HandleFunc("GET "+prefix+"/allocs/{alloc}/execs/{exec}/wait", s.serve(s.wait))
	m.HandleFunc("POST "+prefix+"/allocs/{alloc}/execs/{exec}/kill", s.serve(s.kill))
	m.HandleFunc("POST "+prefix+"/allocs/{alloc}/execs:batch", s.serve(s.batch))
	m.HandleFunc("GET "+prefix+"/allocs/{alloc}/execs:wait", s.waitBatch)
	m.HandleFunc("GET "+prefix+"/allocs/{alloc}/execs/{exec}/logs", s.logs)
	m.HandleFunc("POST "+prefix+"/blobs", s.serve(s.putBlob))
	m.HandleFunc("GET "+prefix+"/blobs/{digest}", s.getBlob)
	m.HandleFunc("GET "+prefix+"/blobs/{digest}/stat", s.serve(s.statBlob))
	m.HandleFunc("POST "+prefix+"/blobs/{digest}/holders", s.serve(s.holdBlob))
	m.HandleFunc("GET "+prefix+"/blobs/{digest}/holders", s.serve(s.blobHolders))
}

func (s *Server) getPool(r *http.Request) (any, error) {
	p, err := s.pool()
	if err != nil {
		return nil, err
	}
	caps, err := p.Capacity(r.Context())
	if err != nil {
		return nil, err
	}
	return poolWire{ID: p.ID(), Capacity: caps, Extensions: []string{extBatch}}, nil
}

func (s *Server) listOffers(r *http.Request) (any, error) {
	p, err := s.pool()
	if err != nil {
		return nil, err
	}
	out := []offerWire{}
	if s.Draining() {
		return out, nil
	}
	offers, err := p.Offers(r.Context())
	if err != nil {
		return nil, err
	}
	for _, o := range offers {
		out = append(out, offerWire{ID: o.ID(), Available: o.Available()})
	}
	return out, nil
}

// accept accepts the offer named in the path. The pool's offers are
// listed again to find it: an offer's ID changes whenever what it offers
// does, so the offer found is the one the client saw, or it is gone. A
// request with an Idempotency-Key is answered once per key (see
// acceptMemory); the Accept itself runs without the request's
// cancellation, so that an alloc taken for a client that went away is
// remembered for its retry rather than lost.
func (s *Server) accept(r *http.Request) (any, error) {
	p, err := s.pool()
	if err != nil {
		return nil, err
	}
	id := r.PathValue("offer")
	var meta pool.AllocMeta
	if err := readJSON(r.Body, &meta); err != nil {
		return nil, fmt.Errorf("accept offer %s: %w", id, err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), s.cfg.MaxWait)
	defer cancel()
	return s.accepts.do(r.Context(), r.Header.Get(headerIdempotency), func() (allocWire, error) {
		if s.Draining() {
			return allocWire{}, errDraining("accept offer " + id)
		}
		offers, err := p.Offers(ctx)
		if err != nil {
			return allocWire{}, err
		}
		for _, o := range offers {
			if o.ID() != id {
				continue
			}
			a, err := o.Accept(ctx, meta)
			if err != nil {
				return allocWire{}, err
			}
			s.renew()
			return allocWire{ID: a.ID(), Resources: a.Resources()}, nil
		}
		return allocWire{}, fmt.Errorf("accept offer %s: the pool no longer offers it: %w", id, ebb.ErrOfferGone)
	})
}

func (s *Server) listAllocs(r *http.Request) (any, error) {
	p, err := s.pool()
	if err != nil {
		return nil, err
	}
	allocs, err := p.Allocs(r.Context())
	if err != nil {
		return nil, err
	}
	out := make([]allocWire, len(allocs))
	for i, a := range allocs {
		out[i] = allocWire{ID: a.ID(), Resources: a.Resources()}
	}
	return out, nil
}

// inspectAlloc serves both Pool.Alloc and Alloc.Inspect: an alloc that
// does not exist is ebb.ErrNotExist, which the client's Inspect turns
// into ebb.ErrExpired.
func (s *Server) inspectAlloc(r *http.Request) (any, error) {
	p, err := s.pool()
	if err != nil {
		return nil, err
	}
	a, err := p.Alloc(r.Context(), r.PathValue("alloc"))
	if err != nil {
		return nil, err
	}
	return a.Inspect(r.Context())
}

// alloc returns the alloc named in the path, for a call on the alloc: one
// the pool no longer knows, or a closed pool's, has ended, and the call
// fails with ebb.ErrExpired as it would on the alloc itself.
func (s *Server) alloc(r *http.Request) (pool.Alloc, error) {
	p, err := s.pool()
	if err != nil {
		return nil, err
	}
	id := r.PathValue("alloc")
	a, err := p.Alloc(r.Context(), id)
	if errors.Is(err, ebb.ErrNotExist) || errors.Is(err, ebb.ErrClosed) {
		return nil, fmt.Errorf("alloc %s has ended (%v): %w", id, err, ebb.ErrExpired)
	}
	return a, err
}

func (s *Server) free(r *http.Request) (any, error) {
	a, err := s.alloc(r)
	if err != nil {
		return nil, err
	}
	return nil, a.Free(r.Context())
}

func (s *Server) keepalive(r *http.Request) (any, error) {
	a, err := s.alloc(r)
	if err != nil {
		return nil, err
	}
	var in leaseWire
	if err := readJSON(r.Body, &in); err != nil {
		return nil, fmt.Errorf("keepalive alloc %s: %w", a.ID(), err)
	}
	granted, err := a.Keepalive(r.Context(), time.Duration(in.LeaseNS))
	if err != nil {
		return nil, err
	}
	s.renew()
	return leaseWire{LeaseNS: int64(granted)}, nil
}
