package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ebbflow/ebb/internal/proctest"
)

// TestRunWithEverySink runs one elastic ebb run, its auxiliary allocs on
// procs workers, with every sink on at once: an events file, an AMQP
// broker, a Prometheus scraping -metrics, an OpenTelemetry Collector
// receiving OTLP, and the dashboard in a headless Chromium. Each sees the
// whole run, and none keeps another from seeing it.
func TestRunWithEverySink(t *testing.T) {
	// Every backend, or a skip that names the one missing.
	chrome := chromium(t)
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		need(t, "EBB_PROMETHEUS_REQUIRED", "no prometheus on PATH: apt-get install prometheus")
	}
	colBin := os.Getenv("EBB_OTELCOL")
	if colBin == "" {
		need(t, "EBB_OTELCOL_REQUIRED", "no collector: set EBB_OTELCOL=$(scripts/otelcol/build)")
	}
	broker, exchange, ch, queue := amqpQueue(t, "ebb.cmd.allsinks")

	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	bin := buildEbb(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// The collector, writing what it receives to a file.
	colAddr, otlpOut, col := startCollector(ctx, t, dir, colBin)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+colAddr)
	t.Setenv("OTEL_SERVICE_NAME", "ebb-allsinks-test")

	// The flow: a gate that waits for the page to be up, six parts, more
	// than the primary runs at once, and a last task that keeps the run
	// up until Prometheus has counted the others.
	gate, release := filepath.Join(dir, "go"), filepath.Join(dir, "release")
	wf := write("workers.yaml", fmt.Sprintf("provider: procs\nworker: [%s, worker]\nidle_timeout: 1s\nlatency: 100ms\nshapes:\n  - {name: one, resources: \"cpu=1,mem=512MiB\"}\n", bin))
	var flow strings.Builder
	wait := func(f string) string { return fmt.Sprintf("while [ ! -e %s ]; do sleep 0.05; done", f) }
	fmt.Fprintf(&flow, "name: allsinks\ntasks:\n  - {name: gate, argv: [sh, -c, \"%s; echo 1 > out\"], resources: \"cpu=1,mem=64MiB\", outputs: [out]}\n", wait(gate))
	var parts []string
	for i := range 6 {
		parts = append(parts, fmt.Sprintf("part-%d", i))
		fmt.Fprintf(&flow, "  - {name: part-%d, argv: [sh, -c, \"sleep 1; echo %d > out\"], resources: \"cpu=1,mem=64MiB\", outputs: [out], after: [gate]}\n", i, i)
	}
	fmt.Fprintf(&flow, "  - {name: last, argv: [sh, -c, \"%s\"], resources: \"cpu=1,mem=64MiB\", after: [%s]}\n", wait(release), strings.Join(parts, ", "))
	ff := write("flow.yaml", flow.String())
	tasks := append(append([]string{"gate"}, parts...), "last")
	events := filepath.Join(dir, "events.jsonl")

	t.Chdir(dir)
	stderr := &announced{urlc: make(chan string, 1)}
	lw, lines := watchLines(t, stderr)
	var stdout strings.Builder
	ran := make(chan int, 1)
	go func() {
		ran <- mainCode(ctx, []string{"run", "-ui", "127.0.0.1:0", "-metrics", "127.0.0.1:0",
			"-events", events, "-amqp", broker, "-amqp-exchange", exchange,
			"-workers", wf, "-primary", "cpu=1,mem=64MiB", ff}, &stdout, lw)
	}()
	code := -1
	ended := func() int {
		if code == -1 {
			os.WriteFile(gate, nil, 0o644) // let the run end, whatever happened
			os.WriteFile(release, nil, 0o644)
			code = <-ran
		}
		return code
	}
	defer ended()

	// Where the run serves its metrics and its dashboard.
	var metrics, dashboard string
	for metrics == "" {
		select {
		case line := <-lines:
			if m := metricsLine.FindStringSubmatch(line); m != nil {
				metrics = m[1]
			}
		case c := <-ran:
			ran <- c
			t.Fatalf("ebb run exited %d before serving its metrics:\n%s", c, stderr)
		case <-ctx.Done():
			t.Fatalf("ebb run printed no metrics address:\n%s", stderr)
		}
	}
	select {
	case dashboard = <-stderr.urlc:
	case <-ctx.Done():
		t.Fatalf("ebb run printed no dashboard address:\n%s", stderr)
	}
	target, err := url.Parse(metrics)
	if err != nil {
		t.Fatal(err)
	}

	prom := startPrometheus(t, dir, promBin, target.Host)

	bctx, stopBrowser := browser(t, chrome, t.TempDir())
	defer stopBrowser()
	if err := chromedp.Do(bctx, chromedp.Navigate(dashboard), chromedp.WaitVisible(chromedp.ID("phase"))); err != nil {
		t.Fatal(err)
	}
	if err := pollPage(bctx, `document.getElementById('phase').dataset.phase === 'eval' && document.getElementById('count-running').textContent === '1' && document.getElementById('count-done').textContent === '0'`, time.Minute); err != nil {
		t.Fatalf("the gate running, nothing done: %v", err)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	// Prometheus counts every task but the last, which waits for it.
	prom.waitTasks(ctx, t, len(tasks)-1)
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	// The browser: the final view, every task done, an auxiliary alloc
	// that came and went.
	for _, s := range []struct{ what, expr string }{
		{"the run over, the view final", `document.getElementById('phase').dataset.phase === 'done' && document.getElementById('live').dataset.live === 'final'`},
		{"every task done", fmt.Sprintf(`document.getElementById('count-done').textContent === '%d' && document.getElementById('count-running').textContent === '0'`, len(tasks))},
		{"an auxiliary alloc that came and went", `document.querySelectorAll('#timeline g.alloc[data-role=auxiliary]').length > 0 && document.querySelectorAll('#timeline g.alloc[data-role=auxiliary][data-ended=""]').length === 0`},
	} {
		if err := pollPage(bctx, s.expr, 2*time.Minute); err != nil {
			html, _ := chromedp.Run(bctx, chromedp.OuterHTML(chromedp.CSS("main")))
			t.Fatalf("%s: %v\npage:\n%s\nebb said:\n%s", s.what, err, html, stderr)
		}
	}

	// The run's result.
	if c := ended(); c != 0 {
		t.Fatalf("ebb run exited %d:\n%s%s", c, stdout.String(), stderr)
	}
	if out := stdout.String(); !strings.Contains(out, fmt.Sprintf("%d tasks, %d run, 0 from the cache", len(tasks), len(tasks))) {
		t.Errorf("ebb run printed:\n%s", out)
	}
	stopBrowser()
	prom.stop()
	col.stop() // flushes the file

	// The events file: each task queued, started, finished, in order.
	stories := map[string][]string{}
	for _, ev := range readEvents(t, events) {
		if task, _ := ev["task"].(string); task != "" {
			stories[task] = append(stories[task], ev["kind"].(string))
		}
	}
	// Every task but last stores an output.
	for _, task := range tasks {
		want := "queued started stage-out finished"
		if task == "last" {
			want = "queued started finished"
		}
		if got := strings.Join(stories[task], " "); got != want {
			t.Errorf("events file: task %s: %q, want %s", task, got, want)
		}
	}
	if len(stories) != len(tasks) {
		t.Errorf("events file: stories of %d tasks, want %d: %v", len(stories), len(tasks), stories)
	}

	// The broker: ebb run waited for its confirmations, so every message
	// is in the queue, numbered from 1 with no gap.
	perJob := map[string][]string{}
	var n, last int
	for {
		d, ok, err := ch.Get(queue, true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		n++
		var b struct {
			Job string
			Seq int
		}
		if err := json.Unmarshal(d.Body, &b); err != nil {
			t.Fatal(err)
		}
		if b.Seq != last+1 {
			t.Errorf("AMQP message %d (%s) has seq %d, after %d", n, d.RoutingKey, b.Seq, last)
		}
		last = b.Seq
		if n == 1 && d.RoutingKey != "executor.ready" {
			t.Errorf("first AMQP message %s, want executor.ready", d.RoutingKey)
		}
		if b.Job != "" {
			perJob[b.Job] = append(perJob[b.Job], strings.TrimPrefix(d.RoutingKey, "job."+strings.ReplaceAll(b.Job, ".", "_")+"."))
		}
	}
	for _, task := range tasks {
		want := "[queued started execution.finished stage-out.started stage-out.finished finished]"
		if task == "last" {
			want = "[queued started execution.finished finished]"
		}
		if got := fmt.Sprint(perJob[task]); got != want {
			t.Errorf("AMQP: job %s's messages: %s, want %s", task, got, want)
		}
	}
	if len(perJob) != len(tasks) {
		t.Errorf("AMQP: messages of %d jobs, want %d: %v", len(perJob), len(tasks), perJob)
	}

	// The collector: the run's span, every task's, and the allocations'.
	spans := readOTLP(t, otlpOut).spans
	if runs := spans["ebb.Run"]; len(runs) != 1 || runs[0]["ebb.run.id"] == "" {
		t.Errorf("ebb.Run spans: %v", runs)
	}
	traced := map[string]bool{}
	for _, s := range spans["ebb.Task"] {
		if s["ebb.alloc.id"] == "" || s["ebb.exec.exit_code"] != "0" {
			t.Errorf("ebb.Task span without its attributes: %v", s)
		}
		traced[s["ebb.task.name"]] = true
	}
	for _, task := range tasks {
		if !traced[task] {
			t.Errorf("no ebb.Task span for %s; spans for %v", task, traced)
		}
	}
	pools := map[string]bool{}
	for _, s := range spans["ebb.Cluster.Allocate"] {
		if slices.Contains(strings.Fields(s["events"]), "ebb.canceled") && s["ebb.pool"] != "" {
			continue // a request cancelled once its demand was gone
		}
		if s["ebb.alloc.id"] == "" || s["ebb.pool"] == "" {
			t.Errorf("ebb.Cluster.Allocate span without its attributes: %v", s)
		}
		pools[s["ebb.pool"]] = true
	}
	if len(pools) < 2 {
		t.Errorf("ebb.Cluster.Allocate spans in pools %v, want the primary's and the workers'", pools)
	}
	if len(spans["ebb.Alloc.Free"]) < 2 {
		t.Errorf("%d ebb.Alloc.Free spans, want the auxiliary allocs' and the primary's", len(spans["ebb.Alloc.Free"]))
	}

	// Nothing left: no worker, browser, Prometheus or collector.
	if !proctest.Eventually(10*time.Second, func() bool { return len(proctest.Children()) == 0 }) {
		t.Errorf("child processes left: %v", proctest.Children())
	}
}
