package stealer

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/ebbflow/ebb"
	"github.com/grailbio/base/status"
)

// report shows the loop's state in Config.Status, after every event: the
// group's status counts the allocs held and the requests in flight, and
// each request in flight is a task of the group until it is granted,
// fails or is given up. It is called from the loop's goroutine only.
func (l *loop) report() {
	g := l.cfg.Status
	if g == nil {
		return
	}
	if l.shown == nil {
		l.shown = make(map[RequestID]*status.Task)
	}
	for id, t := range l.shown {
		if l.pending[id] == nil {
			t.Done()
			delete(l.shown, id)
		}
	}
	reqs := slices.SortedFunc(maps.Values(l.pending), func(a, b *request) int { return cmp.Compare(a.seq, b.seq) })
	for _, r := range reqs {
		if l.shown[r.id] == nil {
			t := g.Startf("request %s", r.id)
			t.Printf("asking for %s", r.req.Max())
			l.shown[r.id] = t
		}
	}
	var held ebb.Resources
	draining := 0
	for _, h := range l.held {
		held = held.Add(h.res)
		if h.draining {
			draining++
		}
	}
	text := fmt.Sprintf("%s held", plural(len(l.held), "alloc"))
	if len(l.held) > 0 {
		text += fmt.Sprintf(" (%s)", held)
	}
	if draining > 0 {
		text += fmt.Sprintf(", %d draining", draining)
	}
	text += fmt.Sprintf(", %s in flight", plural(len(l.pending), "request"))
	g.Print(text)
}
