// Package statusview shows a status.Status (package
// github.com/grailbio/base/status) as ebb's commands and examples do. On a
// terminal, the status is redrawn in place below whatever else is
// printed: a line per group ("run: tasks: 3 done, ..."), and under it a
// line per task that is not done, with its elapsed time. Elsewhere (a
// pipe, a log file) it prints plain lines, one per group whose status
// changed, at most every Config.Every, with no carriage return and no
// escape code, so that the output reads line by line.
//
// The runner, the stealer and the elastic cluster report to groups of one
// status.Status (their configs' Status fields); a View shows it. Lines
// the program prints meanwhile (events, log records) go through
// View.Println or View.Write, so that they land above the status.
//
// status.Reporter, the package's own display, is not used: its goroutine
// never ends, and its plain mode prints at most once a minute.
package statusview

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/grailbio/base/status"
	"golang.org/x/sys/unix"
)

// Config configures a View. Every zero field takes its default.
type Config struct {
	// Terminal redraws the status in place; otherwise plain lines are
	// printed.
	Terminal bool
	// Every is how often at most the plain lines are printed (and only
	// the groups whose status changed); default 5 s.
	Every time.Duration
	// Redraw is how often at most the terminal is redrawn; default
	// 100 ms. It is redrawn every second anyway, for the elapsed times.
	Redraw time.Duration
	// MaxTasks caps the task lines shown under each group on a
	// terminal; the rest are counted ("... and 3 more"). Default 5.
	MaxTasks int
	// Width is how many columns a terminal line may take: longer ones
	// are cut. Default: the terminal's, or 100 when it does not say.
	Width int
	// Height is how many lines the status may take on a terminal, so
	// that it never scrolls out of reach of its redraw: the last ones
	// are left out. Default: the terminal's rows less one, or 23.
	Height int
}

// A View shows a status.Status on a writer. Its methods are safe for
// concurrent use.
type View struct {
	s   *status.Status
	cfg Config

	mu      sync.Mutex // guards the fields below, and the writes to w
	w       io.Writer
	drawn   int               // terminal: the status lines drawn, which end where the cursor is
	printed map[string]string // plain: group title → status last printed
	order   []string          // the groups' titles, in the order shown
	stopped bool              // Run has returned: writes go straight to w
}

// New returns a View of s on w.
func New(w io.Writer, s *status.Status, cfg Config) *View {
	if cfg.Every <= 0 {
		cfg.Every = 5 * time.Second
	}
	if cfg.Redraw <= 0 {
		cfg.Redraw = 100 * time.Millisecond
	}
	if cfg.MaxTasks <= 0 {
		cfg.MaxTasks = 5
	}
	return &View{s: s, cfg: cfg, w: w, printed: make(map[string]string)}
}

// refresh is how often a terminal is redrawn when nothing changed, for
// the elapsed times of the tasks.
const refresh = time.Second

// Run shows the status until ctx is done, then shows it one last time
// (on a terminal it stays; elsewhere the groups that changed since they
// were printed are printed), and returns.
func (v *View) Run(ctx context.Context) {
	version := -1
	waitc := v.s.Wait(version)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	gap := v.cfg.Every
	if v.cfg.Terminal {
		gap = v.cfg.Redraw
	}
	var last time.Time // of the last show
	dirty := false
	for {
		select {
		case <-ctx.Done():
			v.show(time.Now())
			v.mu.Lock()
			v.stopped = true
			v.mu.Unlock()
			return
		case version = <-waitc:
			waitc = v.s.Wait(version)
			dirty = true
		case <-timer.C:
		}
		now := time.Now()
		if v.cfg.Terminal && !last.IsZero() && now.Sub(last) >= refresh {
			dirty = true
		}
		if dirty && (last.IsZero() || now.Sub(last) >= gap) {
			if v.show(now) {
				last = now
			}
			dirty = false
		}
		// Wake for what is due next: a change held back by gap, or a
		// terminal's refresh.
		var next time.Time
		if dirty {
			next = last.Add(gap)
		} else if v.cfg.Terminal && !last.IsZero() {
			next = last.Add(refresh)
		}
		if !next.IsZero() {
			timer.Reset(next.Sub(now))
		} else {
			timer.Stop()
		}
	}
}

// show draws the status (terminal) or prints the groups that changed
// (plain), and reports whether it printed anything.
func (v *View) show(now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cfg.Terminal {
		v.clearLocked()
		v.drawLocked(now)
		return true
	}
	printed := false
	for _, g := range v.groupsLocked() {
		val := g.Value()
		if val.Status == "" || v.printed[val.Title] == val.Status {
			continue
		}
		v.printed[val.Title] = val.Status
		fmt.Fprintf(v.w, "%s: %s\n", val.Title, oneLine(val.Status))
		printed = true
	}
	return printed
}

// groupsLocked returns the groups in the order they are shown: that in
// which the View first saw them, and those it saw at once by title.
// v.mu is held.
func (v *View) groupsLocked() []*status.Group {
	groups := v.s.Groups()
	byTitle := make(map[string]*status.Group, len(groups))
	var fresh []string
	for _, g := range groups {
		title := g.Value().Title
		byTitle[title] = g
		if !slices.Contains(v.order, title) {
			fresh = append(fresh, title)
		}
	}
	slices.Sort(fresh)
	v.order = append(v.order, fresh...)
	out := make([]*status.Group, 0, len(groups))
	for _, title := range v.order {
		if g := byTitle[title]; g != nil {
			out = append(out, g)
		}
	}
	return out
}

// Println prints line above the status.
func (v *View) Println(line string) {
	v.Write([]byte(line + "\n"))
}

// Write writes p above the status: on a terminal, the status is cleared,
// p written, and the status drawn again below it. Once Run has returned,
// p is written after the status, which stays as it was last shown. p should end with a
// newline, as a log record does.
func (v *View) Write(p []byte) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.cfg.Terminal || v.stopped {
		return v.w.Write(p)
	}
	v.clearLocked()
	n, err := v.w.Write(p)
	v.drawLocked(time.Now())
	return n, err
}

// clearLocked erases the status lines drawn, leaving the cursor where
// the first was. v.mu is held.
func (v *View) clearLocked() {
	if v.drawn == 0 {
		return
	}
	var b strings.Builder
	for range v.drawn {
		b.WriteString("\x1b[1A\x1b[2K") // up one line, and erase it
	}
	b.WriteString("\r")
	io.WriteString(v.w, b.String())
	v.drawn = 0
}

// drawLocked draws the status below the cursor. v.mu is held.
func (v *View) drawLocked(now time.Time) {
	width, height := v.size()
	var b strings.Builder
	n := 0
	line := func(s string) {
		if n >= height {
			return
		}
		if r := []rune(s); len(r) > width {
			s = string(r[:width])
		}
		b.WriteString(s)
		b.WriteString("\n")
		n++
	}
	for _, g := range v.groupsLocked() {
		val := g.Value()
		var tasks []status.Value
		for _, t := range g.Tasks() {
			if tv := t.Value(); tv.End.IsZero() {
				tasks = append(tasks, tv)
			}
		}
		if val.Status == "" && len(tasks) == 0 {
			continue
		}
		line(fmt.Sprintf("%s: %s", val.Title, oneLine(val.Status)))
		for i, t := range tasks {
			if i == v.cfg.MaxTasks {
				line(fmt.Sprintf("  ... and %d more", len(tasks)-i))
				break
			}
			line(fmt.Sprintf("  %s: %s  %s", t.Title, oneLine(t.Status), now.Sub(t.Begin).Truncate(time.Second)))
		}
	}
	io.WriteString(v.w, b.String())
	v.drawn = n
}

// size returns the columns a terminal line may take, and the lines the
// status may.
func (v *View) size() (width, height int) {
	width, height = 100, 23
	if f, ok := v.w.(interface{ Fd() uintptr }); ok {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 && ws.Row > 1 {
			width, height = int(ws.Col), int(ws.Row)-1
		}
	}
	if v.cfg.Width > 0 {
		width = v.cfg.Width
	}
	if v.cfg.Height > 0 {
		height = v.cfg.Height
	}
	return width, height
}

// oneLine keeps s on one line.
func oneLine(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}

// IsTerminal says whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
