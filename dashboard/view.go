package dashboard

import (
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/runner"
)

// view is what the page shows, as JSON. Times are Unix milliseconds;
// durations seconds. The page's script is its only reader.
type view struct {
	Seq      uint64         `json:"seq"`
	Now      int64          `json:"now"`
	Final    bool           `json:"final"` // the Dashboard stopped: no view follows
	Run      runView        `json:"run"`
	Progress progressView   `json:"progress"`
	States   map[string]int `json:"states"`
	Kinds    []kindView     `json:"kinds"`
	Allocs   []allocView    `json:"allocs"`
	Capacity capacityView   `json:"capacity"`
	Steals   []decisionView `json:"decisions"` // newest first
	Workers  []workerView   `json:"workers"`
	Pending  pendingView    `json:"pending"`
	Dropped  int            `json:"dropped"` // events the Dashboard lost
	Events   int            `json:"events"`
	Viewers  int            `json:"viewers"`
}

type runView struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Phase      string `json:"phase"`
	Created    int64  `json:"created,omitempty"`
	Completion int64  `json:"completion,omitempty"`
	Tries      int    `json:"tries"`
	Allocs     int    `json:"allocs"`
	Err        string `json:"err,omitempty"`
	Held       string `json:"held,omitempty"` // resource-minutes
}

type progressView struct {
	Tasks   int `json:"tasks"`
	Done    int `json:"done"`
	Cached  int `json:"cached"`
	Skipped int `json:"skipped"`
	Running int `json:"running"`
	Ready   int `json:"ready"`
	Waiting int `json:"waiting"`
	Retried int `json:"retried"`
	Lost    int `json:"lost"`
}

type kindView struct {
	Kind     string         `json:"kind"`
	Tasks    int            `json:"tasks"`
	States   map[string]int `json:"states"`
	Estimate float64        `json:"estimate"`       // seconds
	AtLeast  bool           `json:"at_least"`       // Estimate is a lower bound
	Mean     float64        `json:"mean,omitempty"` // of the finished
	Min      float64        `json:"min,omitempty"`
	Max      float64        `json:"max,omitempty"`
	Finished int            `json:"finished"`
}

type allocView struct {
	ID        string  `json:"id"`
	Role      string  `json:"role"` // primary or auxiliary
	Engine    string  `json:"engine"`
	Shape     string  `json:"shape,omitempty"`
	Worker    string  `json:"worker,omitempty"`
	Resources string  `json:"resources,omitempty"`
	CPU       float64 `json:"cpu"`
	Start     int64   `json:"start"`
	End       int64   `json:"end,omitempty"`
	Ended     string  `json:"ended,omitempty"`
	Tasks     int     `json:"tasks"`
	Running   int     `json:"running"`
}

type capacityView struct {
	Resource string `json:"resource"`
	// Points are [t, held, demand, running].
	Points [][4]float64 `json:"points"`
}

type decisionView struct {
	Time      int64  `json:"time"`
	Kind      string `json:"kind"`
	Alloc     string `json:"alloc,omitempty"`
	Request   string `json:"request,omitempty"`
	Resources string `json:"resources,omitempty"`
	Reason    string `json:"reason"`
	Err       string `json:"err,omitempty"`
}

type workerView struct {
	ID       string `json:"id"`
	Engine   string `json:"engine"`
	Shape    string `json:"shape"`
	State    string `json:"state"` // up, terminating, gone
	Adopted  bool   `json:"adopted,omitempty"`
	LastBusy int64  `json:"last_busy,omitempty"`
	Allocs   int    `json:"allocs"` // held now
}

type pendingView struct {
	Launching []string `json:"launching"`
	Waiting   int      `json:"waiting"`
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// view returns what m shows at now. It shares no memory with m.
func (m *model) view(flowName string, now time.Time) view {
	st := &m.status
	v := view{Now: ms(now), Dropped: m.dropped, Events: m.events, States: map[string]int{}}
	s := &st.State
	v.Run = runView{Name: flowName, Phase: string(s.Phase), Created: ms(s.Created),
		Completion: ms(s.Completion), Tries: s.NumTries, Allocs: s.Allocs, Err: s.Err}
	if s.ID != "" {
		v.Run.ID = s.ID.Encoded()
	}
	if !m.polled {
		v.Run.Phase = string(runner.PhaseInit)
	}
	if len(s.TotalResources) > 0 {
		v.Run.Held = s.TotalResources.String()
	}
	p := st.Progress
	v.Progress = progressView{Tasks: len(m.tasks), Done: p.Done, Cached: p.Cached, Skipped: p.Skipped,
		Running: p.Running, Ready: p.Ready, Waiting: p.Waiting, Retried: p.Retried, Lost: p.Lost}

	ages := map[int32][]time.Duration{}
	for i := range m.tasks {
		if t := &m.tasks[i]; t.state == stateRunning {
			ages[t.kind] = append(ages[t.kind], now.Sub(t.started))
		}
	}
	for k := range m.kinds {
		kd := &m.kinds[k]
		kv := kindView{Kind: kd.name, States: map[string]int{}, Finished: kd.finished}
		for s, n := range kd.counts {
			kv.Tasks += n
			if n > 0 {
				kv.States[stateNames[s]] = n
				v.States[stateNames[s]] += n
			}
		}
		est, atLeast := m.durations.Estimate(kd.name, ages[int32(k)], kd.hint)
		kv.Estimate, kv.AtLeast = est.Seconds(), atLeast
		if kd.finished > 0 {
			kv.Mean = (kd.sum / time.Duration(kd.finished)).Seconds()
			kv.Min, kv.Max = kd.min.Seconds(), kd.max.Seconds()
		}
		v.Kinds = append(v.Kinds, kv)
	}

	held := map[string]int{}
	for _, a := range m.allocList {
		av := allocView{ID: a.id, Role: "auxiliary", Engine: a.pool, CPU: a.resources[ebb.CPU],
			Start: ms(a.start), End: ms(a.end), Ended: a.ended, Tasks: a.tasks, Running: a.running}
		if a.primary {
			av.Role = "primary"
		}
		if len(a.resources) > 0 {
			av.Resources = a.resources.String()
		}
		if w := workerOf(a.id, m.workers); w != nil {
			av.Worker, av.Shape = w.ID, w.Shape
			if w.Engine != "" {
				av.Engine = w.Engine
			}
			if a.end.IsZero() {
				held[w.ID]++
			}
		}
		v.Allocs = append(v.Allocs, av)
	}
	v.Capacity = capacityView{Resource: "cpu", Points: make([][4]float64, len(m.points))}
	for i, p := range m.points {
		v.Capacity.Points[i] = [4]float64{float64(ms(p.t)), p.held, p.demand, p.runningC}
	}
	n := len(m.decisions)
	for i := range n {
		// Newest first: the ring's newest is just before next.
		d := m.decisions[(m.nextDec-1-i+2*n)%n]
		v.Steals = append(v.Steals, decisionView{Time: ms(d.time), Kind: d.kind, Alloc: d.alloc, Request: d.request,
			Resources: d.resources, Reason: d.reason, Err: d.err})
	}
	for _, id := range m.workerIDs {
		w := m.workers[id]
		wv := workerView{ID: id, Engine: w.Engine, Shape: w.Shape, State: "up", Adopted: w.Adopted, LastBusy: ms(w.LastBusy), Allocs: held[id]}
		switch {
		case w.gone:
			wv.State = "gone"
		case w.Terminating:
			wv.State = "terminating"
		}
		v.Workers = append(v.Workers, wv)
	}
	v.Pending = pendingView{Launching: append([]string{}, st.Launching...), Waiting: st.Waiting}
	return v
}
