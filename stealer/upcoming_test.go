package stealer

import (
	"testing"
	"time"

	"github.com/ebbflow/ebb"
)

// waveFlow is a staged flow: task 0, a gather of kind "gather", runs;
// tasks 1..4 ("map") depend on it alone; task 5 ("gather") depends on
// 1..4; task 6 ("map") depends on 5 and on task 7, which waits on
// something else (an arrival to come).
type waveFlow struct {
	kind    []int
	deps    [][]int32
	waiting []int
	res     []ebb.Resources
}

func newWaveFlow() *waveFlow {
	f := &waveFlow{
		kind: []int{0, 1, 1, 1, 1, 0, 1, 1},
		deps: [][]int32{nil, {0}, {0}, {0}, {0}, {1, 2, 3, 4}, {5, 7}, nil},
		res:  []ebb.Resources{cpus(1), cpus(1), cpus(1), cpus(2), cpus(1), cpus(1), cpus(1), cpus(1)},
	}
	f.waiting = []int{0, 1, 1, 1, 1, 4, 2, 1}
	return f
}

func (f *waveFlow) wave(running []time.Duration) Wave {
	dependents := make([][]int32, len(f.deps))
	for i, ds := range f.deps {
		for _, d := range ds {
			dependents[d] = append(dependents[d], int32(i))
		}
	}
	return Wave{
		Kinds:      []KindWork{{Kind: "gather", Running: running}, {Kind: "map"}},
		Tasks:      [][]int32{{0}, nil},
		Kind:       func(i int32) int { return f.kind[i] },
		Dependents: func(i int32) []int32 { return dependents[i] },
		Waiting:    func(i int32) int { return f.waiting[i] },
		Resources:  func(i int32) ebb.Resources { return f.res[i] },
	}
}

func TestNextWave(t *testing.T) {
	var d Durations
	for range 3 {
		d.Observe("gather", 2*time.Minute)
		d.Observe("map", 30*time.Second)
	}
	f := newWaveFlow()
	got := d.NextWave(f.wave([]time.Duration{30 * time.Second}))
	// The first wave: tasks 1..4 when the gather ends, in 90 s; one of
	// the one-cpu tasks takes the gather's slot, so the rest need new
	// capacity, in two groups by shape, the wider first. The second
	// wave, task 5, takes the slot of one of the first: nothing. Task 6
	// waits on task 7 too: not upcoming.
	want := []Upcoming{
		{Demand: ebb.Demand{Resources: cpus(2), Count: 1, Duration: 30 * time.Second}, In: 90 * time.Second},
		{Demand: ebb.Demand{Resources: cpus(1), Count: 2, Duration: 30 * time.Second}, In: 90 * time.Second},
	}
	if len(got) != len(want) {
		t.Fatalf("NextWave = %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.Resources.Equal(w.Resources) || g.Count != w.Count || g.Duration != w.Duration || g.In != w.In || g.Untimed || g.AtLeast {
			t.Errorf("NextWave[%d] = %+v, want %+v", i, g, w)
		}
	}

	// The gather has run longer than any seen: when it ends is a guess,
	// and all that waits on it is untimed. It may end at any moment, so
	// the maps are due no sooner than now: Remaining's guess (half its
	// age again, 2m30s) is no lower bound, and a policy that read it as
	// one would drain the allocs the maps need when the gather ends early.
	late := d.NextWave(f.wave([]time.Duration{5 * time.Minute}))
	if len(late) == 0 {
		t.Fatal("NextWave behind a gather past every duration seen = nil, want the untimed maps")
	}
	for _, u := range late {
		if !u.Untimed || u.In != 0 {
			t.Errorf("upcoming %+v behind a gather past every duration seen: want Untimed, In 0", u)
		}
	}

	// Nothing runs: nothing upcoming.
	if got := d.NextWave(f.wave(nil)); got != nil {
		t.Errorf("NextWave with nothing running = %+v, want nil", got)
	}
}

// A chain's next step runs in the slot of the step before: a hundred
// chains need nothing new, however soon their next steps are ready.
func TestNextWaveChains(t *testing.T) {
	var d Durations
	d.Observe("step", time.Minute)
	n := 100
	var ages []time.Duration
	var running []int32
	for i := range n {
		ages = append(ages, 30*time.Second)
		running = append(running, int32(2*i))
	}
	w := Wave{
		Kinds:      []KindWork{{Kind: "step", Running: ages}},
		Tasks:      [][]int32{running},
		Kind:       func(int32) int { return 0 },
		Dependents: func(i int32) []int32 { return []int32{i + 1} },
		Waiting:    func(int32) int { return 1 },
		Resources:  func(int32) ebb.Resources { return cpus(1) },
	}
	if got := d.NextWave(w); got != nil {
		t.Errorf("NextWave of %d chains = %+v, want nil", n, got)
	}
}

func TestNextWaveUnknownKind(t *testing.T) {
	var d Durations // nothing seen: every end is a guess
	f := newWaveFlow()
	got := d.NextWave(f.wave([]time.Duration{time.Second}))
	if len(got) == 0 {
		t.Fatal("NextWave = nil, want the untimed wave")
	}
	n := 0
	for _, u := range got {
		if !u.Untimed {
			t.Errorf("upcoming %+v with no duration known: want Untimed", u)
		}
		n += u.Count
	}
	if n != 3 {
		t.Errorf("%d tasks upcoming, want 3 (four maps, one in the gather's slot; the gather after them in a map's)", n)
	}
}

// A gather of a kind none of which has finished, running for 40 s: what
// waits on it may come at any moment (In 0), and likely in 20 s, the
// half-again guess of its end. Once a gather was seen to take a minute,
// its wave is timed, and Likely is In.
func TestNextWaveLikely(t *testing.T) {
	var d Durations
	f := newWaveFlow()
	got := d.NextWave(f.wave([]time.Duration{40 * time.Second}))
	if len(got) == 0 {
		t.Fatal("NextWave = nil, want the untimed wave")
	}
	for _, u := range got {
		if u.Untimed && (u.In != 0 || u.Likely != 20*time.Second) {
			t.Errorf("upcoming %+v behind a gather of unknown kind running 40 s: want In 0, Likely 20s", u)
		}
	}
	d.Observe("gather", time.Minute)
	for _, u := range d.NextWave(f.wave([]time.Duration{40 * time.Second})) {
		if !u.Untimed && u.Likely != u.In {
			t.Errorf("timed upcoming %+v: want Likely = In", u)
		}
	}
}

// dag is a flow given by each task's kind, dependencies and state, for
// NextWave's tests: running tasks with their ages, ready ones, the rest
// waiting on every dependency not done.
type dag struct {
	kinds   []string
	kind    []int
	deps    [][]int32
	done    map[int32]bool
	running map[int32]time.Duration
	ready   []int32
	res     func(int32) ebb.Resources
}

func (g *dag) add(kind int, deps ...int32) int32 {
	g.kind = append(g.kind, kind)
	g.deps = append(g.deps, deps)
	return int32(len(g.kind) - 1)
}

func (g *dag) wave() (Wave, *int) {
	dependents := make([][]int32, len(g.deps))
	for i, ds := range g.deps {
		for _, d := range ds {
			dependents[d] = append(dependents[d], int32(i))
		}
	}
	w := Wave{
		Kinds: make([]KindWork, len(g.kinds)),
		Tasks: make([][]int32, len(g.kinds)),
		Kind:  func(i int32) int { return g.kind[i] },
		Waiting: func(i int32) int {
			n := 0
			for _, d := range g.deps[i] {
				if !g.done[d] {
					n++
				}
			}
			return n
		},
		Resources: func(i int32) ebb.Resources {
			if g.res != nil {
				return g.res(i)
			}
			return cpus(1)
		},
	}
	calls := new(int)
	w.Dependents = func(i int32) []int32 { *calls++; return dependents[i] }
	for k, name := range g.kinds {
		w.Kinds[k].Kind = name
	}
	for i := range g.kind {
		if age, ok := g.running[int32(i)]; ok {
			k := g.kind[i]
			w.Kinds[k].Running = append(w.Kinds[k].Running, age)
			w.Tasks[k] = append(w.Tasks[k], int32(i))
		}
	}
	if g.ready != nil {
		w.Ready = func(yield func(int32) bool) {
			for _, t := range g.ready {
				if !yield(t) {
					return
				}
			}
		}
	}
	return w, calls
}

// A ready task that has not started yet makes its dependents ready when
// it ends: a short split waiting for a slot, its maps a few seconds
// behind. Nothing runs, yet the maps are upcoming, no sooner than the
// split's duration from now.
func TestNextWaveBehindReadyTasks(t *testing.T) {
	var d Durations
	for range 3 {
		d.Observe("split", 2*time.Second)
		d.Observe("map", 30*time.Second)
	}
	g := &dag{kinds: []string{"split", "map", "other"}, done: map[int32]bool{}}
	split := g.add(0)
	for range 4 {
		g.add(1, split)
	}
	other := g.add(2)
	g.add(1, split, other) // waits on a task neither running nor ready
	g.ready = []int32{split}
	w, _ := g.wave()
	got := d.NextWave(w)
	// Four maps; one takes the split's slot. When the split starts is
	// not known: no sooner than 2 s, untimed.
	if len(got) != 1 || got[0].Count != 3 || got[0].In != 2*time.Second || got[0].Duration != 30*time.Second || !got[0].Untimed {
		t.Fatalf("NextWave behind a ready split = %+v, want 3 maps of 30 s, untimed, no sooner than 2 s", got)
	}

	// A split of a kind not seen to finish: when its maps come is a guess.
	var fresh Durations
	got = fresh.NextWave(w)
	if len(got) != 1 || got[0].Count != 3 || !got[0].Untimed {
		t.Errorf("NextWave behind a ready split of unknown duration = %+v, want 3 maps, untimed", got)
	}
}

// A serial step two tasks behind the running ones unlocks a wide stage:
// running diffs → a concat → a model → 80 backgrounds. The backgrounds
// are the third wave.
func TestNextWaveFollowsSerialSteps(t *testing.T) {
	var d Durations
	for range 3 {
		d.Observe("diff", time.Second)
		d.Observe("concat", 3*time.Second)
		d.Observe("model", 20*time.Second)
		d.Observe("background", 7*time.Second)
	}
	g := &dag{kinds: []string{"diff", "concat", "model", "background"}, done: map[int32]bool{}, running: map[int32]time.Duration{}}
	var diffs []int32
	for range 3 {
		diffs = append(diffs, g.add(0))
	}
	g.done[diffs[0]] = true
	g.running[diffs[1]] = 500 * time.Millisecond
	g.running[diffs[2]] = 0
	concat := g.add(1, diffs...)
	model := g.add(2, concat)
	for range 80 {
		g.add(3, model)
	}
	w, _ := g.wave()
	got := d.NextWave(w)
	var bg *Upcoming
	for i := range got {
		if got[i].Duration == 7*time.Second {
			bg = &got[i]
		}
	}
	// The diffs end in a second (one has just started, the other has
	// 500 ms left), then the concat, then the model.
	if bg == nil || bg.Count != 79 || bg.In != 24*time.Second || bg.Untimed {
		t.Fatalf("NextWave = %+v, want 79 backgrounds (one in the model's slot) in 24 s", got)
	}
	// The last diff waits for a slot: the backgrounds come no sooner.
	delete(g.running, diffs[2])
	g.ready = []int32{diffs[2]}
	w, _ = g.wave()
	got = d.NextWave(w)
	if len(got) != 1 || got[0].Count != 79 || got[0].In != 24*time.Second || !got[0].Untimed {
		t.Errorf("NextWave with a diff ready = %+v, want 79 backgrounds, untimed, no sooner than 24 s", got)
	}
}

// A kind in two waves is two groups, each with its own In: the later
// wave does not push the earlier one past a policy's horizon.
func TestNextWaveGroupsByWave(t *testing.T) {
	var d Durations
	for range 3 {
		d.Observe("step", 10*time.Second)
		d.Observe("t", 10*time.Second)
		d.Observe("gather", time.Minute)
	}
	g := &dag{kinds: []string{"step", "t", "gather"}, done: map[int32]bool{}, running: map[int32]time.Duration{}}
	step := g.add(0)
	g.running[step] = 5 * time.Second
	var first []int32
	for range 4 {
		first = append(first, g.add(1, step))
	}
	gather := g.add(2, first...)
	for range 4 {
		g.add(1, gather)
	}
	w, _ := g.wave()
	got := d.NextWave(w)
	var ins []time.Duration
	for _, u := range got {
		if u.Duration == 10*time.Second {
			ins = append(ins, u.In)
			if u.Count != 3 {
				t.Errorf("NextWave group %+v: want 3 tasks (one in the slot of what it waits on)", u)
			}
		}
	}
	if len(ins) != 2 || ins[0] != 5*time.Second || ins[1] != 75*time.Second {
		t.Errorf("NextWave = %+v, want two groups of t, in 5 s and in 75 s", got)
	}
}

// NextWave reads at most maxReadySources ready tasks, however many wait:
// its cost does not grow with a burst.
func TestNextWaveReadsFewReadyTasks(t *testing.T) {
	var d Durations
	d.Observe("t", time.Second)
	g := &dag{kinds: []string{"t"}, done: map[int32]bool{}}
	for i := range 10000 {
		r := g.add(0)
		g.add(0, r)
		g.ready = append(g.ready, int32(2*i))
	}
	w, calls := g.wave()
	d.NextWave(w)
	if *calls > 3*maxReadySources {
		t.Errorf("NextWave over 10,000 ready tasks looked at dependents %d times, want at most %d", *calls, 3*maxReadySources)
	}
}

// A kind whose durations spread tenfold (a split of inputs of any size):
// three splits have run 378 s, and of those seen to run that long one
// ended at 380 s and two ran past ten minutes. Their mean says the maps
// behind them come in minutes; one time in four a split ends within 2 s,
// and that is when the first of them may come (Soon).
func TestNextWaveSoon(t *testing.T) {
	var d Durations
	for _, s := range []int{650, 660, 60, 220, 270, 280, 380} {
		d.Observe("split", time.Duration(s)*time.Second)
	}
	d.Observe("map", 30*time.Second)
	dependents := [][]int32{{3, 4}, {5, 6}, {7, 8}, nil, nil, nil, nil, nil, nil}
	wave := func(age time.Duration) Wave {
		return Wave{
			Kinds: []KindWork{{Kind: "split", Running: []time.Duration{age, age, age}}, {Kind: "map"}},
			Tasks: [][]int32{{0, 1, 2}, nil},
			Kind: func(i int32) int {
				if i < 3 {
					return 0
				}
				return 1
			},
			Dependents: func(i int32) []int32 { return dependents[i] },
			Waiting:    func(i int32) int { return 1 },
			Resources:  func(i int32) ebb.Resources { return cpus(1) },
		}
	}
	got := d.NextWave(wave(378 * time.Second))
	// Six maps; three take the splits' slots.
	if len(got) != 1 || got[0].Count != 3 || got[0].Untimed {
		t.Fatalf("NextWave = %+v, want one timed group of 3 maps", got)
	}
	if u := got[0]; u.Soon != 2*time.Second || u.In < 2*time.Minute {
		t.Errorf("maps behind splits aged 378 s: In %v, Soon %v; want In minutes away (the mean), Soon 2s (the split seen to end at 380 s)", u.In, u.Soon)
	}
	// Past every split seen: untimed, and so no Soon either.
	for _, u := range d.NextWave(wave(15 * time.Minute)) {
		if !u.Untimed || u.Soon != 0 {
			t.Errorf("maps behind splits past every duration seen: %+v, want untimed and Soon 0", u)
		}
	}
}
