package bootstrap_test

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
)

// A providerConfig is the part of a provider's Config that CheckProvider
// sees.
type providerConfig struct {
	boot    bootstrap.Config
	shapes  []cluster.Shape
	pending time.Duration
	logger  *slog.Logger
}

func (c *providerConfig) check() error {
	return bootstrap.CheckProvider(bootstrap.ProviderConfig{
		Bootstrap: &c.boot,
		Want:      "the argv of a worker",
		Shapes:    &c.shapes,
		Shape: func(s cluster.Shape) error {
			if s.Resources[ebb.GPU] != 0 {
				return fmt.Errorf("shape %q: no gpu here: %w", s.Name, ebb.ErrInvalid)
			}
			return nil
		},
		Durations: []bootstrap.Duration{{Name: "PendingTimeout", Value: &c.pending, Default: time.Minute}},
		Logger:    &c.logger,
	})
}

// TestCheckProvider: each bad field is refused with ErrInvalid, naming it
// and its value; a good config gets its defaults.
func TestCheckProvider(t *testing.T) {
	valid := func() providerConfig {
		return providerConfig{boot: bootstrap.Config{Command: []string{"ebb", "worker"}}, shapes: []cluster.Shape{small}}
	}
	for _, tc := range []struct {
		name   string
		change func(*providerConfig)
		want   []string
	}{
		{"no command", func(c *providerConfig) { c.boot.Command = nil }, []string{"Config.Bootstrap.Command []", "want the argv of a worker"}},
		{"empty program", func(c *providerConfig) { c.boot.Command = []string{""} }, []string{`Config.Bootstrap.Command [""]`}},
		{"no shapes", func(c *providerConfig) { c.shapes = nil }, []string{"Config.Shapes"}},
		{"engine refuses a shape", func(c *providerConfig) {
			c.shapes = append(c.shapes, cluster.Shape{Name: "gpu", Resources: ebb.Resources{ebb.GPU: 1}})
		}, []string{"Config.Shapes[1]", `shape "gpu"`}},
		{"negative duration", func(c *providerConfig) { c.pending = -time.Second }, []string{"Config.PendingTimeout -1s", "negative"}},
	} {
		c := valid()
		tc.change(&c)
		err := c.check()
		if !errors.Is(err, ebb.ErrInvalid) {
			t.Errorf("%s: CheckProvider = %v, want ErrInvalid", tc.name, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: CheckProvider = %q, want it to say %q", tc.name, err, w)
			}
		}
	}
	c := valid()
	if err := c.check(); err != nil {
		t.Fatalf("a valid config: %v", err)
	}
	if c.pending != time.Minute || c.logger == nil || c.boot.Logger != c.logger {
		t.Errorf("defaults: pending %v, logger %v, bootstrap's logger %v; want 1m and one logger for both", c.pending, c.logger, c.boot.Logger)
	}
	c = valid()
	c.pending = time.Second
	if err := c.check(); err != nil || c.pending != time.Second {
		t.Errorf("a set duration: %v, %v; want it kept", c.pending, err)
	}
}
