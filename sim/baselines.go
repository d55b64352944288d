package sim

import (
	"cmp"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/stealer"
)

// A PolicySpec names a policy and makes fresh instances of it: a run gets
// its own, since baselines keep state across ticks.
type PolicySpec struct {
	Name string
	// New returns a policy for one run on cluster c (defaults filled).
	New func(c Cluster) (stealer.Policy, error)
}

// PolicyNames returns the names ParsePolicy knows: ebb's default policy,
// then the baselines.
func PolicyNames() []string {
	return []string{"default", "static", "static-max", "spark", "dask", "ray", "partek", "reflow"}
}

// ParsePolicy parses a policy spec: a name from PolicyNames, optionally
// followed by knobs that set fields of the policy's config, each as
// ":Field=value", as in
//
//	default:MinIdleTimeout=30s:MaxRequest=shape
//	spark:IdleTimeout=2m
//
// Durations are Go durations, counts integers, resources the text of
// ebb.ParseResources; MaxRequest=shape (default policy) and Shape=…
// fields take "shape" for the cluster's largest worker shape. The spec
// itself, knobs included, names the policy in reports. Errors wrap
// ebb.ErrInvalid and name the knob.
func ParsePolicy(spec string) (PolicySpec, error) {
	parts := strings.Split(spec, ":")
	name := strings.TrimSpace(parts[0])
	knobs := parts[1:]
	build := func(cfg any, c Cluster) error {
		for _, k := range knobs {
			if err := setKnob(cfg, k, c); err != nil {
				return fmt.Errorf("policy %s: %w", spec, err)
			}
		}
		return nil
	}
	var mk func(c Cluster) (stealer.Policy, error)
	switch name {
	case "default":
		mk = func(c Cluster) (stealer.Policy, error) {
			var cfg stealer.DefaultConfig
			if err := build(&cfg, c); err != nil {
				return nil, err
			}
			return stealer.NewDefault(cfg)
		}
	case "static", "static-max":
		mk = func(c Cluster) (stealer.Policy, error) {
			cfg := StaticConfig{}
			if name == "static-max" {
				cfg.Workers = c.MaxWorkers
			}
			if err := build(&cfg, c); err != nil {
				return nil, err
			}
			return NewStatic(cfg, c), nil
		}
	case "spark":
		mk = func(c Cluster) (stealer.Policy, error) {
			var cfg SparkConfig
			if err := build(&cfg, c); err != nil {
				return nil, err
			}
			return NewSpark(cfg, c), nil
		}
	case "dask":
		mk = func(c Cluster) (stealer.Policy, error) {
			var cfg DaskConfig
			if err := build(&cfg, c); err != nil {
				return nil, err
			}
			return NewDask(cfg, c), nil
		}
	case "ray":
		mk = func(c Cluster) (stealer.Policy, error) {
			var cfg RayConfig
			if err := build(&cfg, c); err != nil {
				return nil, err
			}
			return NewRay(cfg, c), nil
		}
	case "partek":
		mk = func(c Cluster) (stealer.Policy, error) {
			var cfg PartekConfig
			if err := build(&cfg, c); err != nil {
				return nil, err
			}
			return NewPartek(cfg, c), nil
		}
	case "reflow":
		mk = func(c Cluster) (stealer.Policy, error) {
			var cfg ReflowConfig
			if err := build(&cfg, c); err != nil {
				return nil, err
			}
			return NewReflow(cfg), nil
		}
	default:
		return PolicySpec{}, fmt.Errorf("policy %q: unknown (%s): %w", name, strings.Join(PolicyNames(), ", "), ebb.ErrInvalid)
	}
	ps := PolicySpec{Name: strings.TrimSpace(spec), New: func(c Cluster) (stealer.Policy, error) {
		c, err := c.WithDefaults()
		if err != nil {
			return nil, err
		}
		return mk(c)
	}}
	// Check the knobs now, so that a typo fails before any run.
	if _, err := ps.New(Cluster{}); err != nil {
		return PolicySpec{}, err
	}
	return ps, nil
}

// setKnob sets the field of the struct cfg points to that kv names.
func setKnob(cfg any, kv string, c Cluster) error {
	k, v, ok := strings.Cut(kv, "=")
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	if !ok || k == "" {
		return fmt.Errorf("knob %q: want Field=value: %w", kv, ebb.ErrInvalid)
	}
	rv := reflect.ValueOf(cfg).Elem()
	f := rv.FieldByNameFunc(func(n string) bool { return strings.EqualFold(n, k) })
	if !f.IsValid() || !f.CanSet() {
		var names []string
		for i := range rv.NumField() {
			if rv.Type().Field(i).IsExported() {
				names = append(names, rv.Type().Field(i).Name)
			}
		}
		return fmt.Errorf("knob %q: no such field (%s): %w", k, strings.Join(names, ", "), ebb.ErrInvalid)
	}
	bad := func(err error) error { return fmt.Errorf("knob %s=%q: %v: %w", k, v, err, ebb.ErrInvalid) }
	switch f.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return bad(err)
		}
		f.SetInt(int64(d))
	case int:
		n, err := strconv.Atoi(v)
		if err != nil {
			return bad(err)
		}
		f.SetInt(int64(n))
	case float64:
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return bad(fmt.Errorf("not a finite number"))
		}
		f.SetFloat(x)
	case ebb.Resources:
		var r ebb.Resources
		if v == "shape" {
			r = largest(c.Shapes)
		} else {
			var err error
			if r, err = ebb.ParseResources(v); err != nil {
				return bad(err)
			}
		}
		f.Set(reflect.ValueOf(r))
	default:
		return fmt.Errorf("knob %q: a field of type %s cannot be set: %w", k, f.Type(), ebb.ErrInvalid)
	}
	return nil
}

// largest returns the largest of shapes (by Size), a copy.
func largest(shapes []ebb.Resources) ebb.Resources {
	if len(shapes) == 0 {
		return nil
	}
	return slices.MaxFunc(shapes, func(a, b ebb.Resources) int { return cmp.Compare(a.Size(), b.Size()) }).Clone()
}

// Helpers shared by the baselines. Each reads only its snapshot.

// demandTasks counts the tasks of s.Demand.
func demandTasks(s stealer.Snapshot) int {
	n := 0
	for _, d := range s.Demand {
		n += max(0, d.Count)
	}
	return n
}

// live counts the held allocs that are not draining.
func live(s stealer.Snapshot) int {
	n := 0
	for _, h := range s.Held {
		if !h.Draining {
			n++
		}
	}
	return n
}

// idleDrains drains every held alloc that works, is not draining, runs
// nothing and has been idle for at least timeout.
func idleDrains(s stealer.Snapshot, timeout time.Duration, who string) []stealer.Drain {
	var out []stealer.Drain
	for _, h := range s.Held {
		if !h.Working || h.Draining || h.Running > 0 || h.IdleSince.IsZero() {
			continue
		}
		if idle := s.Now.Sub(h.IdleSince); idle >= timeout {
			out = append(out, stealer.Drain{AllocID: h.ID,
				Reason: fmt.Sprintf("%s: drained alloc %s: idle %v (idle timeout %v)", who, h.ID, idle, timeout)})
		}
	}
	return out
}

// workers returns n requests for a whole worker of shape.
func workers(n int, shape ebb.Resources, reason string) []stealer.Request {
	out := make([]stealer.Request, max(0, n))
	for i := range out {
		out[i] = stealer.Request{Requirements: ebb.Requirements{Min: shape.Clone(), Width: 1}, Reason: reason}
	}
	return out
}

// workersFor returns how many workers of shape the demand needs, each
// filled with one task shape at a time; tasks that do not fit shape are
// left out.
func workersFor(demand []ebb.Demand, shape ebb.Resources) int {
	var w float64
	for _, d := range demand {
		if per := fitUnits(d.Resources, shape, 1<<30); per > 0 && d.Count > 0 {
			w += float64(d.Count) / float64(per)
		}
	}
	return int(math.Ceil(w - 1e-9))
}
