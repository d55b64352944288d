package stealer

import (
	"cmp"
	"slices"
	"sort"
	"time"
)

// A survival is the Kaplan–Meier curve of a kind's durations, its running
// tasks' ages counted as censored observations (each will run at least
// that long). Finished durations weigh by their recency (see recency),
// running tasks 1 each. The curve falls only at finished durations, of
// which a kind keeps at most keepDurations, so a running task's age is
// only placed among them, never sorted with the others: a kind with
// thousands of tasks running costs a pass over their ages.
type survival struct {
	at      []time.Duration // the distinct finished durations, increasing
	surv    []float64       // surv[j]: the curve after at[j-1]; surv[0] = 1
	tail    []float64       // tail[j]: the area under the curve from at[j] to longest, in ns
	longest time.Duration   // the longest observation, finished or running
	ages    []time.Duration // the running tasks' ages, as given
}

// A weighed duration is a finished one and its weight.
type weighed struct {
	took   time.Duration
	weight float64
}

// survival returns the curve of kind's durations and of the running
// tasks whose ages are given. ages is kept, not copied.
func (d *Durations) survival(kind string, ages []time.Duration) *survival {
	var fin []weighed
	if k := d.kinds[kind]; k != nil {
		n := len(k.recent)
		fin = make([]weighed, 0, n)
		w := 1.0
		// Newest first: the ring's newest is just before next.
		for i := range n {
			fin = append(fin, weighed{k.recent[(k.next-1-i+2*n)%n], w})
			w *= recency
		}
		slices.SortStableFunc(fin, func(a, b weighed) int { return cmp.Compare(a.took, b.took) })
	}
	c := &survival{ages: ages}
	finAtLeast := 0.0 // the weight of the finished durations from the current one on
	for _, f := range fin {
		if len(c.at) == 0 || c.at[len(c.at)-1] != f.took {
			c.at = append(c.at, f.took)
		}
		finAtLeast += f.weight
		c.longest = max(c.longest, f.took)
	}
	m := len(c.at)
	// reach[k]: how many running tasks have reached exactly the first
	// k finished durations (k = c.step(age)).
	reach := make([]int, m+1)
	last, k := time.Duration(-1), 0 // tasks started together come together
	for _, a := range ages {
		if a = max(a, 0); a != last {
			last, k = a, c.step(a)
		}
		reach[k]++
		c.longest = max(c.longest, a)
	}
	// runAtLeast: how many running tasks are at risk at at[j]: those
	// whose age is at least at[j], that is whose step is past j.
	runAtLeast := len(ages) - reach[0]
	c.surv = make([]float64, m+1)
	c.surv[0] = 1
	s, i := 1.0, 0
	for j, t := range c.at {
		atRisk := finAtLeast + float64(runAtLeast)
		for ; i < len(fin) && fin[i].took == t; i++ {
			if atRisk > 0 {
				s *= max(0, 1-fin[i].weight/atRisk)
			}
			atRisk -= fin[i].weight
			finAtLeast -= fin[i].weight
		}
		c.surv[j+1] = s
		runAtLeast -= reach[j+1]
	}
	c.tail = make([]float64, m)
	for j := m - 1; j >= 0; j-- {
		next := c.longest
		if j+1 < m {
			next = c.at[j+1]
			c.tail[j] = c.tail[j+1]
		}
		// Between at[j] and the next step the curve is what it is after at[j].
		c.tail[j] += c.surv[j+1] * float64(next-c.at[j])
	}
	return c
}

// step returns how many of the finished durations are at most age: the
// curve at age is surv[step].
func (c *survival) step(age time.Duration) int {
	k, found := slices.BinarySearch(c.at, age)
	if found {
		k++
	}
	return k
}

// estimate is Durations.Estimate for the curve's kind and ages.
func (c *survival) estimate(hint time.Duration) (est time.Duration, atLeast bool) {
	if len(c.at) == 0 {
		return max(hint, c.longest), true
	}
	// The restricted mean: the area under the curve, 1 up to the
	// shortest finished duration.
	return time.Duration(float64(c.at[0]) + c.tail[0]), false
}

// left returns what Durations.Remaining says of a task of the curve's
// kind that has run for age, in nanoseconds, and whether it is timed:
// false when no finished duration lies past age and hint is not half
// again beyond it, so that the figure is only the half-again guess.
func (c *survival) left(age, hint time.Duration) (float64, bool) {
	if k := c.step(age); k < len(c.at) && c.surv[k] > 0 {
		// The mean of the durations beyond age, less age: the area
		// under the curve from age on, given it got there.
		return (c.surv[k]*float64(c.at[k]-age) + c.tail[k]) / c.surv[k], true
	}
	return float64(max(age/2, hint-age)), hint > age && hint-age >= age/2
}

// early returns how much longer a task of the curve's kind that has run
// for age runs at most, one time in earlyOdds: the earliest finished
// duration past age by which that share of the tasks that got to age
// ended, less age (the longest observation, less age, when the curve
// does not fall that far). It reports false when no finished duration
// lies past age: then only a guess says when the task ends.
func (c *survival) early(age time.Duration) (time.Duration, bool) {
	age = max(age, 0)
	k := c.step(age)
	if k >= len(c.at) || c.surv[k] <= 0 {
		return 0, false
	}
	// The curve does not rise: the first step past age after which it
	// has fallen by a quarter of where it was at age.
	given := c.surv[k]
	n := len(c.at) - k
	j := k + sort.Search(n, func(i int) bool {
		return 1-c.surv[k+i+1]/given >= 1/float64(earlyOdds)-1e-9
	})
	if j < len(c.at) {
		return c.at[j] - age, true
	}
	return c.longest - age, true
}

// earlyOdds is the odds early reads the curve at: one time in four, the
// lower quartile. Of a kind whose durations spread tenfold (the split
// of an input of any size), a task that has run a while may end in a
// second or in minutes, and its mean says minutes.
const earlyOdds = 4

// remaining returns left for each of the curve's running tasks.
func (c *survival) remaining(hint time.Duration) (left []float64, timed []bool) {
	left = make([]float64, len(c.ages))
	timed = make([]bool, len(c.ages))
	for i, a := range c.ages {
		if i > 0 && a == c.ages[i-1] {
			left[i], timed[i] = left[i-1], timed[i-1] // tasks started together
			continue
		}
		left[i], timed[i] = c.left(max(a, 0), hint)
	}
	return left, timed
}

// masses returns, for each running task of the curve that want selects,
// the distribution of its remaining time that left is the mean of: the
// curve's masses beyond its age, the mass left past the longest
// observation at the longest, in increasing time, each given that the
// task got to its age. It returns nil for a task not selected, or whose
// remaining time is not timed by finished durations past its age.
func (c *survival) masses(want []bool) [][]mass {
	out := make([][]mass, len(want))
	for i, a := range c.ages {
		if i >= len(want) || !want[i] {
			continue
		}
		a = max(a, 0)
		k := c.step(a)
		if k >= len(c.at) || c.surv[k] <= 0 {
			continue
		}
		given := c.surv[k]
		var ms []mass
		for j := k; j < len(c.at); j++ {
			if p := c.surv[j] - c.surv[j+1]; p > 0 {
				ms = append(ms, mass{At: (c.at[j] - a).Seconds(), P: p / given})
			}
		}
		if rest := c.surv[len(c.at)]; rest > 0 {
			at := (c.longest - a).Seconds()
			if n := len(ms); n > 0 && ms[n-1].At == at {
				ms[n-1].P += rest / given
			} else {
				ms = append(ms, mass{At: at, P: rest / given})
			}
		}
		out[i] = ms
	}
	return out
}
