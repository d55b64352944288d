package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// need skips the test with msg, or fails it when the environment variable
// required is 1 (as in CI).
func need(t *testing.T, required, msg string) {
	t.Helper()
	if os.Getenv(required) == "1" {
		t.Fatalf("%s; %s=1", msg, required)
	}
	t.Skip(msg)
}

// freeAddr returns a loopback address with a port that was free a moment
// ago, for a server the test starts in another process.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// poll calls f at every tick of a ticker until it reports done, or fails
// the test when ctx ends first: how a test waits on a server in another
// process, which no fake clock reaches.
func poll(ctx context.Context, t *testing.T, what string, f func() (bool, error)) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		done, err := f()
		if done {
			return
		}
		last = err
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (last: %v)", what, ctx.Err(), last)
		}
	}
}

// A server is a process the test started.
type server struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once it has exited
}

// startServer starts a server process that the test stops (SIGTERM, then
// waits) when it ends, and shows its log when the test failed.
func startServer(t *testing.T, dir, name string, args ...string) *server {
	t.Helper()
	log, err := os.Create(filepath.Join(dir, filepath.Base(name)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = log, log, dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		s.stop()
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("%s's log:\n%s", name, b)
		}
	})
	return s
}

// stop ends the server gracefully, and for good after 30 s.
func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// up reports an error once the server has exited.
func (s *server) up() error {
	select {
	case <-s.exited:
		return fmt.Errorf("%s exited: %v", s.cmd.Path, s.cmd.ProcessState)
	default:
		return nil
	}
}

// manyFlow is n quick tasks and, after them all, a task that waits until
// the file release exists: the run stays up, its n tasks done, until the
// test lets it end.
func manyFlow(n int, release string) string {
	var b strings.Builder
	b.WriteString("name: many\ntasks:\n")
	var names []string
	for i := range n {
		name := fmt.Sprintf("quick.%02d", i)
		names = append(names, name)
		fmt.Fprintf(&b, "  - name: %s\n    argv: [sh, -c, \"echo %d > n\"]\n    env: [PATH=/usr/bin:/bin]\n    resources: cpu=0.1\n    outputs: [n]\n", name, i)
	}
	if release != "" {
		fmt.Fprintf(&b, "  - name: last\n    argv: [sh, -c, \"while [ ! -e %s ]; do sleep 0.05; done\"]\n    env: [PATH=/usr/bin:/bin]\n    resources: cpu=0.1\n    after: [%s]\n", release, strings.Join(names, ", "))
	}
	return b.String()
}

// lineWriter hands each line written to it to lines, without blocking.
type lineWriter struct {
	pw *io.PipeWriter
}

func watchLines(t *testing.T, w io.Writer) (*lineWriter, <-chan string) {
	pr, pw := io.Pipe()
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Fprintln(w, sc.Text())
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	t.Cleanup(func() { pw.Close() })
	return &lineWriter{pw: pw}, lines
}

func (l *lineWriter) Write(p []byte) (int, error) { return l.pw.Write(p) }

var metricsLine = regexp.MustCompile(`metrics on (http://\S+/metrics)`)

// TestRunServesPrometheus runs ebb run -metrics while a real Prometheus
// scrapes it, and asks Prometheus, through its HTTP query API, how many
// tasks the run finished.
func TestRunServesPrometheus(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		need(t, "EBB_PROMETHEUS_REQUIRED", "no prometheus on PATH: apt-get install prometheus")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	const n = 6
	release := filepath.Join(dir, "release")
	flow := filepath.Join(dir, "flow.yaml")
	if err := os.WriteFile(flow, []byte(manyFlow(n, release)), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	lw, lines := watchLines(t, &stderr)
	var stdout strings.Builder
	code := make(chan int, 1)
	go func() {
		code <- mainCode(ctx, []string{"run", "-dir", filepath.Join(dir, ".ebb"), "-elastic=false", "-metrics", "127.0.0.1:0", flow}, &stdout, lw)
	}()
	defer func() {
		os.WriteFile(release, nil, 0o644) // let the run end, whatever happened
		if c := <-code; c != 0 && !t.Failed() {
			t.Errorf("ebb run exited %d:\n%s%s", c, stdout.String(), stderr.String())
		}
	}()
	var target string
	for target == "" {
		select {
		case line := <-lines:
			if m := metricsLine.FindStringSubmatch(line); m != nil {
				target = m[1]
			}
		case <-ctx.Done():
			t.Fatalf("ebb run printed no metrics address: %s", stderr.String())
		}
	}
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	if h, _, _ := net.SplitHostPort(u.Host); h != "127.0.0.1" {
		t.Errorf("metrics served on %s, want 127.0.0.1", u.Host)
	}

	startPrometheus(t, dir, bin, u.Host).waitTasks(ctx, t, n)
}

// TestRunPublishesToAMQP runs ebb run -amqp against the test broker and
// checks, through a queue bound with "#", that each task's messages
// arrive in order.
func TestRunPublishesToAMQP(t *testing.T) {
	broker, exchange, ch, queue := amqpQueue(t, "ebb.cmd.test")
	deliveries, err := ch.Consume(queue, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	flow := filepath.Join(dir, "flow.yaml")
	if err := os.WriteFile(flow, []byte(manyFlow(4, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	c, out, errs := runEbb(t, dir, "run", "-quiet", "-amqp", broker, "-amqp-exchange", exchange, flow)
	if c != 0 {
		t.Fatalf("ebb run exited %d:\n%s%s", c, out, errs)
	}
	// ebb run waited for the broker's confirmations: every message is in
	// the queue. executor.ready, then 4 tasks × queued, started,
	// execution.finished, stage-out.started, stage-out.finished (of
	// their output, "i\n"), finished.
	const want = 1 + 4*6
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	perJob := map[string][]string{}
	for i := range want {
		select {
		case d := <-deliveries:
			var b struct {
				Type  string
				Job   string
				Seq   int
				Bytes *int64
			}
			if err := json.Unmarshal(d.Body, &b); err != nil {
				t.Fatal(err)
			}
			if b.Seq != i+1 {
				t.Errorf("message %d (%s) has seq %d", i+1, d.RoutingKey, b.Seq)
			}
			if i == 0 && d.RoutingKey != "executor.ready" {
				t.Errorf("first message %s, want executor.ready", d.RoutingKey)
			}
			if b.Job != "" {
				perJob[b.Job] = append(perJob[b.Job], strings.TrimPrefix(d.RoutingKey, "job."+strings.ReplaceAll(b.Job, ".", "_")+"."))
			}
			if b.Type == "job.stage-out.finished" && (b.Bytes == nil || *b.Bytes != 2) {
				t.Errorf("%s: bytes %v, want 2 (the output's size)", d.RoutingKey, b.Bytes)
			}
		case <-ctx.Done():
			t.Fatalf("%d of %d messages arrived", i, want)
		}
	}
	for i := range 4 {
		job := fmt.Sprintf("quick.%02d", i)
		if got := fmt.Sprint(perJob[job]); got != "[queued started execution.finished stage-out.started stage-out.finished finished]" {
			t.Errorf("job %s's messages: %s", job, got)
		}
	}
	select {
	case d := <-deliveries:
		t.Errorf("an extra message: %s %s", d.RoutingKey, d.Body)
	default:
	}
}

// TestRunSendsOTLP runs ebb run with OTEL_EXPORTER_OTLP_ENDPOINT set to a
// real OpenTelemetry Collector (scripts/otelcol, its binary named by
// EBB_OTELCOL) that writes what it receives to a file, and reads the
// run's, tasks' and allocations' spans, and its task counter, from it.
func TestRunSendsOTLP(t *testing.T) {
	bin := os.Getenv("EBB_OTELCOL")
	if bin == "" {
		need(t, "EBB_OTELCOL_REQUIRED", "no collector: set EBB_OTELCOL=$(scripts/otelcol/build)")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	addr, out, col := startCollector(ctx, t, dir, bin)

	flow := filepath.Join(dir, "flow.yaml")
	if err := os.WriteFile(flow, []byte(manyFlow(3, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
	t.Setenv("OTEL_SERVICE_NAME", "ebb-otlp-test")
	c, stdout, stderr := runEbb(t, dir, "run", "-elastic=false", flow)
	if c != 0 {
		t.Fatalf("ebb run exited %d:\n%s%s", c, stdout, stderr)
	}
	if !strings.Contains(stderr, "traces to otlp http://"+addr+"/v1/traces") {
		t.Errorf("ebb run did not say where traces go:\n%s", stderr)
	}
	col.stop() // flushes the file
	f := readOTLP(t, out)
	spans, metrics, services := f.spans, f.metrics, f.services
	if fmt.Sprint(services) != "map[ebb-otlp-test:true]" {
		t.Errorf("service names %v, want only ebb-otlp-test", services)
	}
	if runs := spans["ebb.Run"]; len(runs) != 1 || runs[0]["ebb.run.id"] == "" || runs[0]["ebb.run.program"] != "ebb run" {
		t.Errorf("ebb.Run spans: %v", runs)
	}
	tasks := map[string]bool{}
	for _, s := range spans["ebb.Task"] {
		if s["ebb.alloc.id"] == "" || s["ebb.exec.exit_code"] != "0" || s["ebb.resources.cpu"] == "" {
			t.Errorf("ebb.Task span without its attributes: %v", s)
		}
		tasks[s["ebb.task.name"]] = true
	}
	if fmt.Sprint(tasks) != "map[quick.00:true quick.01:true quick.02:true]" {
		t.Errorf("task spans for %v", tasks)
	}
	allocs := spans["ebb.Cluster.Allocate"]
	if len(allocs) == 0 {
		t.Errorf("no ebb.Cluster.Allocate span; spans: %v", spans)
	}
	for _, s := range allocs {
		if s["ebb.alloc.id"] == "" || s["ebb.pool"] == "" {
			t.Errorf("ebb.Cluster.Allocate span without its attributes: %v", s)
		}
	}
	if len(spans["ebb.Alloc.Free"]) == 0 {
		t.Errorf("no ebb.Alloc.Free span")
	}
	for _, m := range []string{"ebb.tasks", "ebb.task.duration", "ebb.allocs.held"} {
		if !metrics[m] {
			t.Errorf("no metric %s among %v", m, metrics)
		}
	}
}

// TestRunWithTelemetryDown runs a flow whose OTLP backend refuses every
// export: the run succeeds, exits 0, and warns that telemetry was lost.
func TestRunWithTelemetryDown(t *testing.T) {
	dir := t.TempDir()
	flow := filepath.Join(dir, "flow.yaml")
	if err := os.WriteFile(flow, []byte(manyFlow(2, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+freeAddr(t)) // nothing listens there
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "500")
	c, stdout, stderr := runEbb(t, dir, "run", "-quiet", "-elastic=false", flow)
	if c != 0 {
		t.Fatalf("ebb run exited %d with its telemetry down:\n%s%s", c, stdout, stderr)
	}
	if !strings.Contains(stdout, "2 tasks, 2 run") {
		t.Errorf("ebb run printed:\n%s", stdout)
	}
	if !strings.Contains(stderr, "ebb: warning: telemetry not all delivered") {
		t.Errorf("ebb run did not warn that its telemetry was lost:\n%s", stderr)
	}
}
