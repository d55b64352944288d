package amqpsink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/runner"
	amqp "github.com/rabbitmq/amqp091-go"
)

// DefaultExchange is the exchange a Sink publishes to when Config names
// none: the one HyperFlow's executors publish their events to.
const DefaultExchange = "hyperflow.events"

// Config says where a Sink publishes.
type Config struct {
	// URL is the broker's AMQP URI, as amqp://user:password@host:5672/vhost
	// (amqps:// for TLS). Required.
	URL string
	// Exchange is the topic exchange to publish to, declared durable if
	// it does not exist. Default DefaultExchange.
	Exchange string
	// Executor is the ID every body carries in its executor field.
	// Default: ebb-HOSTNAME-PID.
	Executor string
	// Buffer is how many events the sink may lag behind the run before
	// it drops some (and says how many). Default 65536.
	Buffer int
	// DialTimeout bounds connecting and the AMQP handshake. Default 30 s.
	DialTimeout time.Duration
}

// A Sink publishes the events of an EventBus to an AMQP exchange, from a
// goroutine of its own, until Close. Its methods are for the goroutine
// that started it.
type Sink struct {
	cfg  Config
	conn *amqp.Connection
	ch   *amqp.Channel
	sub  *runner.Subscription

	donec chan error // the pump's end: nil, or its context's error

	// Owned by the pump while it runs, then by Close.
	seq     uint64
	pending []*amqp.DeferredConfirmation
	err     error // the first publishing error
	unsent  int   // messages not published after err
}

// Start connects to the broker at cfg.URL, declares the exchange,
// publishes executor.ready and subscribes to bus; from then on every
// event of bus is published, until Close. The publishing goroutine also
// stops when ctx is done (Close then publishes what is still buffered).
// Start fails with an error wrapping ebb.ErrInvalid for a bad Config and
// ebb.ErrUnavailable when the broker cannot be reached.
func Start(ctx context.Context, bus *runner.EventBus, cfg Config) (*Sink, error) {
	if bus == nil {
		return nil, fmt.Errorf("amqp sink: no event bus: %w", ebb.ErrInvalid)
	}
	uri, err := amqp.ParseURI(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("amqp sink: URL: %v: %w", err, ebb.ErrInvalid)
	}
	where := fmt.Sprintf("%s:%d%s", uri.Host, uri.Port, uri.Vhost)
	if cfg.Exchange == "" {
		cfg.Exchange = DefaultExchange
	}
	host, _ := os.Hostname()
	if cfg.Executor == "" {
		cfg.Executor = fmt.Sprintf("ebb-%s-%d", host, os.Getpid())
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 1 << 16
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 30 * time.Second
	}
	conn, err := amqp.DialConfig(cfg.URL, amqp.Config{
		Properties: amqp.Table{"product": "ebb", "connection_name": cfg.Executor},
		Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: cfg.DialTimeout}
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// Until the handshake is done (the library then clears it).
			deadline := time.Now().Add(cfg.DialTimeout)
			if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
				deadline = d
			}
			if err := c.SetDeadline(deadline); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("amqp sink: connecting to %s: %v: %w", where, err, ebb.ErrUnavailable)
	}
	s := &Sink{cfg: cfg, conn: conn, donec: make(chan error, 1)}
	fail := func(what string, err error) (*Sink, error) {
		conn.Close()
		return nil, fmt.Errorf("amqp sink: %s on %s: %v: %w", what, where, err, ebb.ErrUnavailable)
	}
	if s.ch, err = conn.Channel(); err != nil {
		return fail("opening a channel", err)
	}
	if err := s.ch.ExchangeDeclare(cfg.Exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fail("declaring exchange "+cfg.Exchange, err)
	}
	if err := s.ch.Confirm(false); err != nil {
		return fail("asking for publisher confirms", err)
	}
	s.sub = bus.Subscribe(cfg.Buffer)
	s.publish(ctx, ready(time.Now(), cfg.Executor, host))
	if s.err != nil {
		s.sub.Close()
		return fail("publishing executor.ready", s.err)
	}
	go func() { s.donec <- s.pump(ctx) }()
	return s, nil
}

// pump publishes events until the subscription is closed and empty (nil)
// or ctx is done (ctx's error).
func (s *Sink) pump(ctx context.Context) error {
	for {
		ev, err := s.sub.Next(ctx)
		if errors.Is(err, ebb.ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, m := range Messages(ev, s.cfg.Executor) {
			s.publish(ctx, m)
		}
	}
}

// publish sends m with the next sequence number, unless publishing failed
// before, and keeps its confirmation.
func (s *Sink) publish(ctx context.Context, m Message) {
	s.seq++
	m.Body.Seq = s.seq
	if s.err != nil {
		s.unsent++
		return
	}
	body, err := json.Marshal(m.Body)
	if err != nil { // Body has no field that fails to marshal
		panic(err)
	}
	dc, err := s.ch.PublishWithDeferredConfirmWithContext(ctx, s.cfg.Exchange, m.Key, false, false, amqp.Publishing{
		ContentType: "application/json",
		Type:        m.Body.Type,
		AppId:       "ebb",
		Timestamp:   time.Now(),
		Body:        body,
	})
	if err != nil {
		s.err = err
		s.unsent++
		return
	}
	s.pending = append(s.pending, dc)
	if len(s.pending) >= 1024 {
		s.settle()
	}
}

// settle forgets the confirmations that arrived, counting nacks as
// errors.
func (s *Sink) settle() {
	kept := s.pending[:0]
	for _, dc := range s.pending {
		select {
		case <-dc.Done():
			if !dc.Acked() {
				s.nacked()
			}
		default:
			kept = append(kept, dc)
		}
	}
	clear(s.pending[len(kept):])
	s.pending = kept
}

func (s *Sink) nacked() {
	if s.err == nil {
		s.err = errors.New("the broker refused a message (nack)")
	}
	s.unsent++
}

// Published returns how many messages the sink has handed to the broker
// or tried to, executor.ready included. Call it after Close.
func (s *Sink) Published() uint64 { return s.seq }

// Close stops the sink: it publishes the events still buffered (even when
// the context Start was given is done), waits until the broker has
// confirmed every message or ctx is done, and closes the connection. It
// returns an error wrapping ebb.ErrUnavailable when messages were lost
// (the connection failed, the broker refused some, or ctx ended before
// their confirmations came).
func (s *Sink) Close(ctx context.Context) error {
	s.sub.Close()
	if err := <-s.donec; err != nil {
		// The subscription is closed: this drains it and returns.
		s.pump(ctx)
	}
	for _, dc := range s.pending {
		ok, err := dc.WaitContext(ctx)
		if err != nil {
			if s.err == nil {
				s.err = fmt.Errorf("waiting for the broker's confirmations: %w", err)
			}
			s.unsent++
			continue
		}
		if !ok {
			s.nacked()
		}
	}
	s.pending = nil
	s.ch.Close()
	cerr := s.conn.Close()
	switch {
	case s.err != nil:
		return fmt.Errorf("amqp sink: %d of %d messages not published: %v: %w", s.unsent, s.seq, s.err, ebb.ErrUnavailable)
	case cerr != nil && !errors.Is(cerr, amqp.ErrClosed):
		return fmt.Errorf("amqp sink: closing: %v: %w", cerr, ebb.ErrUnavailable)
	}
	return nil
}
