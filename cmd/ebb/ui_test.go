package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ebbflow/ebb/internal/proctest"
)

// announced is a writer that keeps what is written and hands on the
// first address the dashboard announces ("dashboard: URL").
type announced struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	urlc chan string
	sent bool
}

var dashboardLine = regexp.MustCompile(`dashboard: (http://\S+)`)

func (a *announced) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.buf.Write(p)
	if m := dashboardLine.FindStringSubmatch(a.buf.String()); m != nil && !a.sent {
		a.sent = true
		a.urlc <- m[1]
	}
	return len(p), nil
}

func (a *announced) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.String()
}

// chromium returns the path of a headless-capable Chromium, skipping t
// when there is none unless EBB_BROWSER_REQUIRED=1.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("EBB_CHROMIUM"), "chromium", "chromium-browser"} {
		if name == "" {
			continue
		}
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	msg := "no chromium to drive (apt-get install -y --no-install-recommends chromium, or set EBB_CHROMIUM)"
	if os.Getenv("EBB_BROWSER_REQUIRED") == "1" {
		t.Fatal(msg + ", and EBB_BROWSER_REQUIRED=1")
	}
	t.Skip(msg)
	return ""
}

// browser starts a headless Chromium with a profile of its own in dir,
// and returns its context. stop ends it; then no process of it is left.
func browser(t *testing.T, path, dir string) (ctx context.Context, stop func()) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(dir),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1400, 1100),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	return ctx, func() {
		cancel()
		cancelAlloc()
		left := func() bool { return len(chromiumWith(dir)) == 0 }
		if !proctest.Eventually(10*time.Second, left) {
			t.Errorf("chromium processes left: %v", chromiumWith(dir))
		}
	}
}

// chromiumWith returns the IDs of the processes whose command line names
// dir: the browser's, with its profile there.
func chromiumWith(dir string) []string {
	var pids []string
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range cmdlines {
		if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte("--user-data-dir="+dir)) {
			pids = append(pids, filepath.Base(filepath.Dir(f)))
		}
	}
	return pids
}

// poll waits, at most d, until the page's expression is true.
func pollPage(ctx context.Context, expr string, d time.Duration) error {
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(d)))
	if err != nil {
		return fmt.Errorf("waiting %v for %s: %w", d, expr, err)
	}
	return nil
}

// A person watching ebb run -ui in a browser during an elastic run (the
// local pool's primary, procs workers beside it) sees the task counts
// move, an auxiliary alloc appear on the timeline and leave it, points on
// the capacity chart, the stealer's reasons, and the run end. With
// EBB_DASHBOARD_PNG set, the page of the finished run is saved there (as
// docs/dashboard.png is made).
func TestDashboardInBrowser(t *testing.T) {
	path := chromium(t)
	bin := buildEbb(t)
	dir := t.TempDir()
	gate := filepath.Join(dir, "go")
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	wf := write("workers.yaml", fmt.Sprintf("provider: procs\nworker: [%s, worker]\nidle_timeout: 1s\nlatency: 100ms\nshapes:\n  - {name: one, resources: \"cpu=1,mem=512MiB\"}\n", bin))
	// The first task waits for the test to have the page up; the next
	// six are more than the primary runs at once.
	var flow strings.Builder
	fmt.Fprintf(&flow, "name: dashboard-demo\ntasks:\n  - {name: gate, argv: [sh, -c, \"while [ ! -e %s ]; do sleep 0.05; done; echo 1 > out\"], resources: \"cpu=1,mem=64MiB\", outputs: [out]}\n", gate)
	for i := range 6 {
		fmt.Fprintf(&flow, "  - {name: part-%d, kind: part, argv: [sh, -c, \"sleep 2; echo %d > out\"], resources: \"cpu=1,mem=64MiB\", outputs: [out], after: [gate]}\n", i, i)
	}
	flow.WriteString("  - {name: sum, argv: [sh, -c, \"cat p* | awk '{s += $1} END {print s}' > sum\"], resources: \"cpu=1,mem=64MiB\", outputs: [sum], inputs: [")
	for i := range 6 {
		fmt.Fprintf(&flow, "{name: p%d, task: part-%d, output: out}, ", i, i)
	}
	flow.WriteString("]}\n")
	ff := write("flow.yaml", flow.String())

	t.Chdir(dir)
	stderr := &announced{urlc: make(chan string, 1)}
	var stdout bytes.Buffer
	ran := make(chan int, 1)
	go func() {
		ran <- mainCode(context.Background(), []string{"run", "-ui", "127.0.0.1:0", "-workers", wf, "-primary", "cpu=1,mem=64MiB", ff}, &stdout, stderr)
	}()
	// Whatever happens below, the run ends before the test does.
	defer func() {
		if _, err := os.Stat(gate); err != nil {
			os.WriteFile(gate, nil, 0o644)
		}
		if code := <-ran; code != 0 {
			t.Errorf("ebb run exited %d:\n%s%s", code, &stdout, stderr)
		}
	}()
	var url string
	select {
	case url = <-stderr.urlc:
	case code := <-ran:
		ran <- code
		t.Fatalf("ebb run exited %d before serving its dashboard:\n%s", code, stderr)
	}
	if strings.Contains(url, "token=") {
		t.Errorf("on loopback the dashboard asks for no token, yet its address carries one: %s", url)
	}

	ctx, stop := browser(t, path, t.TempDir())
	defer stop()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("phase"))); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		what, expr string
	}{
		{"the run evaluating, live, the gate running", `document.getElementById('phase').dataset.phase === 'eval' && document.getElementById('live').dataset.live === 'live' && document.getElementById('count-running').textContent === '1'`},
		{"no task done yet", `document.getElementById('count-done').textContent === '0'`},
		{"the primary on the timeline", `document.querySelector('#timeline g.alloc[data-role=primary]') !== null`},
	}
	for _, s := range steps {
		if err := pollPage(ctx, s.expr, time.Minute); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		what, expr string
	}{
		{"tasks done", `+document.getElementById('count-done').textContent >= 1`},
		{"an auxiliary alloc held", `document.querySelector('#timeline g.alloc[data-role=auxiliary][data-ended=""]') !== null`},
		{"a request with its reason", `[...document.querySelectorAll('#decisions li.decision[data-kind=requested] .reason')].some(e => /^requested .+ for /.test(e.textContent))`},
		{"a procs worker", `[...document.querySelectorAll('#workers tbody tr')].some(tr => tr.children[1].textContent === 'procs' && tr.children[2].textContent === 'one')`},
		{"the run over, the view final", `document.getElementById('phase').dataset.phase === 'done' && document.getElementById('live').dataset.live === 'final'`},
		{"every task done", `document.getElementById('count-done').textContent === '8' && document.getElementById('count-running').textContent === '0'`},
		{"the auxiliary allocs gone from the run", `document.querySelectorAll('#timeline g.alloc[data-role=auxiliary]').length > 0 && document.querySelectorAll('#timeline g.alloc[data-role=auxiliary][data-ended=""]').length === 0`},
		{"the capacity chart drawn", `+document.getElementById('capacity').dataset.points > 2 && document.getElementById('line-held').getAttribute('points').split(' ').length > 2`},
		{"the kinds' durations", `[...document.querySelectorAll('#kinds tbody tr')].some(tr => tr.children[0].textContent === 'part' && /^2\.\ds \(/.test(tr.children[8].textContent))`},
	} {
		if err := pollPage(ctx, s.expr, 2*time.Minute); err != nil {
			html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
			t.Fatalf("%s: %v\npage:\n%s\nebb said:\n%s", s.what, err, html, stderr)
		}
	}
	counts, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('count-done').textContent`))
	if n, _ := strconv.Atoi(counts); err != nil || n != 8 {
		t.Errorf("done count %q, %v", counts, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if out := os.Getenv("EBB_DASHBOARD_PNG"); out != "" {
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestUIToken(t *testing.T) {
	for _, tc := range []struct {
		name      string
		u         uiFlags
		env       string
		want      string // "made": 32 hex digits made for the run
		wantShown bool
	}{
		{"loopback", uiFlags{addr: "127.0.0.1:8080"}, "", "", false},
		{"localhost", uiFlags{addr: "localhost:8080"}, "", "", false},
		{"all addresses", uiFlags{addr: ":8080"}, "", "made", true},
		{"an interface", uiFlags{addr: "10.0.0.7:8080"}, "", "made", true},
		{"flag", uiFlags{addr: ":8080", token: "flagged"}, "from-env", "flagged", false},
		{"env", uiFlags{addr: ":8080"}, "from-env", "from-env", false},
		{"flag on loopback", uiFlags{addr: "127.0.0.1:8080", token: "flagged"}, "", "flagged", false},
	} {
		got, made := tc.u.tokenFor(tc.env)
		ok := got == tc.want
		if tc.want == "made" {
			ok = regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(got)
		}
		if !ok || made != tc.wantShown {
			t.Errorf("%s: token %q, made %v; want %s, made %v", tc.name, got, made, tc.want, tc.wantShown)
		}
	}
	a, _ := uiFlags{addr: ":1"}.tokenFor("")
	b, _ := uiFlags{addr: ":1"}.tokenFor("")
	if a == b {
		t.Errorf("two runs made the same token %q", a)
	}
}

func TestUIBadAddress(t *testing.T) {
	flow, err := filepath.Abs("../../examples/wordcount.yaml")
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := runEbb(t, t.TempDir(), "run", "-quiet", "-ui", "127.0.0.1:nope", flow)
	if code != 1 || !strings.Contains(errs, "-ui:") {
		t.Errorf("ebb run -ui 127.0.0.1:nope exited %d:\n%s%s\nwant 1, and a message about -ui", code, out, errs)
	}
}
