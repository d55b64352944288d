package amqpsink_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool/local"
	"github.com/ebbflow/ebb/repository"
	"github.com/ebbflow/ebb/runner"
	"github.com/ebbflow/ebb/runner/amqpsink"
	amqp "github.com/rabbitmq/amqp091-go"
)

// brokerURL returns the URL of the test broker (scripts/rabbitmq-test-server),
// or skips the test when none answers there, unless EBB_AMQP_REQUIRED=1.
func brokerURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("EBB_AMQP_URL")
	if url == "" {
		url = "amqp://guest:guest@127.0.0.1:5673/"
	}
	conn, err := amqp.Dial(url)
	if err != nil {
		msg := fmt.Sprintf("no RabbitMQ at %s (%v): start one with scripts/rabbitmq-test-server up, or set EBB_AMQP_URL", url, err)
		if os.Getenv("EBB_AMQP_REQUIRED") == "1" {
			t.Fatal(msg + "; EBB_AMQP_REQUIRED=1")
		}
		t.Skip(msg)
	}
	conn.Close()
	return url
}

// consumer binds a queue of its own to exchange with "#".
type consumer struct {
	conn *amqp.Connection
	ch   *amqp.Channel
	dc   <-chan amqp.Delivery
}

func newConsumer(t *testing.T, url, exchange string) *consumer {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	// As the sink declares it; removed when the test ends.
	if err := ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.ExchangeDelete(exchange, false, false) })
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, "#", exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	dc, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &consumer{conn: conn, ch: ch, dc: dc}
}

// take returns the next n messages, failing the test when ctx ends first.
func (c *consumer) take(ctx context.Context, t *testing.T, n int) []amqp.Delivery {
	t.Helper()
	var got []amqp.Delivery
	for len(got) < n {
		select {
		case d, ok := <-c.dc:
			if !ok {
				t.Fatalf("the consumer's channel closed after %d of %d messages", len(got), n)
			}
			got = append(got, d)
		case <-ctx.Done():
			t.Fatalf("%d of %d messages arrived: %v", len(got), n, ctx.Err())
		}
	}
	return got
}

// testFlow is a real flow: a fan-out and fan-in of Func tasks, names with
// dots, and a task that fails once in a way that passes (retried).
func testFlow() *ebb.Flow {
	var tries atomic.Int32
	noop := func(context.Context, ebb.FuncEnv) error { return nil }
	flaky := func(context.Context, ebb.FuncEnv) error {
		if tries.Add(1) == 1 {
			return fmt.Errorf("first try: %w", ebb.ErrUnavailable)
		}
		return nil
	}
	res := ebb.Resources{ebb.CPU: 0.1}
	flow := &ebb.Flow{Name: "amqp", Tasks: []ebb.Task{
		{Name: "split", Func: noop, FuncKey: "split", Resources: res},
		{Name: "flaky", Func: flaky, FuncKey: "flaky", Resources: res, Attempts: 3, After: []string{"split"}},
	}}
	var parts []string
	for i := range 12 {
		name := fmt.Sprintf("part.%02d", i)
		parts = append(parts, name)
		flow.Tasks = append(flow.Tasks, ebb.Task{Name: name, Func: noop, FuncKey: name, Resources: res, After: []string{"split"}})
	}
	flow.Tasks = append(flow.Tasks, ebb.Task{Name: "join", Func: noop, FuncKey: "join", Resources: res, After: append(parts, "flaky")})
	// A file made and a file read: their staging is published.
	write := func(_ context.Context, env ebb.FuncEnv) error {
		return os.WriteFile(filepath.Join(env.Dir, "out"), []byte(strings.Repeat("x", stagedBytes)), 0o644)
	}
	double := func(_ context.Context, env ebb.FuncEnv) error {
		b, err := os.ReadFile(filepath.Join(env.Dir, "in"))
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(env.Dir, "out"), append(b, b...), 0o644)
	}
	flow.Tasks = append(flow.Tasks,
		ebb.Task{Name: "make", Func: write, FuncKey: "make", Resources: res, Outputs: []string{"out"}},
		ebb.Task{Name: "use", Func: double, FuncKey: "use", Resources: res, Outputs: []string{"out"},
			Inputs: []ebb.Input{{Name: "in", Task: "make", Output: "out"}}})
	return flow
}

// stagedBytes is the size of make's output, which use reads.
const stagedBytes = 12345

// TestBrokerReceivesRunInOrder runs a real flow on the local pool with a
// sink publishing to RabbitMQ, and checks, through a queue bound with
// "#", that every message of the run arrives once, in the sink's order,
// and that each job's messages are those its events make, in order.
func TestBrokerReceivesRunInOrder(t *testing.T) {
	url := brokerURL(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	exchange := fmt.Sprintf("ebb.test.%d", time.Now().UnixNano())
	c := newConsumer(t, url, exchange)

	repo, err := repository.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := local.New(local.Config{Resources: ebb.Resources{ebb.CPU: 2, ebb.Mem: 1 << 30}, Repository: repo})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	bus := runner.NewEventBus()
	record := bus.Subscribe(1 << 12) // what the run did, to compare
	sink, err := amqpsink.Start(ctx, bus, amqpsink.Config{URL: url, Exchange: exchange, Executor: "test-executor"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(runner.Config{Flow: testFlow(), Cluster: cluster.NewStatic(p), Repository: repo, Events: bus}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	record.Close()

	// What the sink should have published, job by job.
	want := map[string][]string{}
	events := 0
	for {
		ev, err := record.Next(ctx)
		if errors.Is(err, ebb.ErrClosed) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == runner.EventDropped {
			t.Fatalf("the recording dropped %d events", ev.Dropped)
		}
		events++
		for _, m := range amqpsink.Messages(ev, "test-executor") {
			want[m.Body.Job] = append(want[m.Body.Job], m.Key)
		}
	}
	jobs := len(want)
	if _, ok := want[""]; ok { // the stealer's events
		jobs--
	}
	if jobs != 17 {
		t.Errorf("events of %d jobs recorded, want 17", jobs)
	}

	n := int(sink.Published())
	msgs := c.take(ctx, t, n)
	got := map[string][]string{}
	for i, d := range msgs {
		var b amqpsink.Body
		if err := json.Unmarshal(d.Body, &b); err != nil {
			t.Fatalf("message %d (%s): %v: %s", i, d.RoutingKey, err, d.Body)
		}
		if b.Seq != uint64(i+1) {
			t.Errorf("message %d (%s) has seq %d: out of order or lost", i+1, d.RoutingKey, b.Seq)
		}
		if b.Executor != "test-executor" || d.ContentType != "application/json" || d.Type != b.Type {
			t.Errorf("message %d: executor %q, content type %q, type %q/%q", i+1, b.Executor, d.ContentType, d.Type, b.Type)
		}
		if i == 0 {
			if d.RoutingKey != "executor.ready" || b.Hostname == "" {
				t.Errorf("first message %s (hostname %q), want executor.ready with the hostname", d.RoutingKey, b.Hostname)
			}
			continue
		}
		got[b.Job] = append(got[b.Job], d.RoutingKey)
		// The staging's figures are the files': make's output, read by
		// use, which writes twice as much.
		staged := map[string]int64{"job.make.stage-out.finished": stagedBytes,
			"job.use.stage-in.finished": stagedBytes, "job.use.stage-out.finished": 2 * stagedBytes}
		if want, ok := staged[d.RoutingKey]; ok {
			if b.Bytes == nil || *b.Bytes != want || len(b.Files) != 1 || b.Files[0].Bytes != want || b.Time == nil {
				t.Errorf("%s: bytes %v, files %+v, time %v; want %d bytes in one file", d.RoutingKey, b.Bytes, b.Files, b.Time, want)
			}
		}
	}
	for job, keys := range want {
		if fmt.Sprint(got[job]) != fmt.Sprint(keys) {
			t.Errorf("job %q: got messages\n\t%v\nwant\n\t%v", job, got[job], keys)
		}
	}
	for job := range got {
		if _, ok := want[job]; !ok {
			t.Errorf("messages of job %q, which had no events: %v", job, got[job])
		}
	}
	if flaky := want["flaky"]; fmt.Sprint(flaky) != "[job.flaky.queued job.flaky.started job.flaky.execution.finished job.flaky.retried job.flaky.started job.flaky.execution.finished job.flaky.finished]" {
		t.Errorf("the flaky task's messages: %v", flaky)
	}
	if use := fmt.Sprint(got["use"]); use != "[job.use.queued job.use.started job.use.stage-in.started job.use.stage-in.finished job.use.execution.finished job.use.stage-out.started job.use.stage-out.finished job.use.finished]" {
		t.Errorf("use's messages: %v", use)
	}
	if want["part.03"][0] != "job.part_03.queued" {
		t.Errorf("part.03's first message: %v", want["part.03"])
	}
	// Nothing more arrives.
	select {
	case d := <-c.dc:
		t.Errorf("an extra message: %s %s", d.RoutingKey, d.Body)
	default:
	}
	t.Logf("%d events, %d messages", events, n)
}

func TestStartErrors(t *testing.T) {
	bus := runner.NewEventBus()
	for _, tc := range []struct {
		name string
		bus  *runner.EventBus
		url  string
		want error
	}{
		{"no bus", nil, "amqp://127.0.0.1:5673/", ebb.ErrInvalid},
		{"bad URL", bus, "http://127.0.0.1/", ebb.ErrInvalid},
		{"nobody there", bus, "amqp://guest:guest@127.0.0.1:1/", ebb.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := amqpsink.Start(t.Context(), tc.bus, amqpsink.Config{URL: tc.url})
			if !errors.Is(err, tc.want) {
				if s != nil {
					s.Close(t.Context())
				}
				t.Fatalf("Start(%q) = %v, want %v", tc.url, err, tc.want)
			}
		})
	}
}
