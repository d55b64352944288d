package bootstrap

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
)

// ProviderConfig points at the fields that the Configs of the providers
// starting their workers through a Bootstrap share, for CheckProvider to
// check and fill in. Each pointer is to the provider's own field.
type ProviderConfig struct {
	// Bootstrap is the provider's Bootstrap field: its Command must name
	// a program; its Logger defaults to the provider's Logger.
	Bootstrap *Config
	// Want says what Bootstrap.Command should be, for the error that
	// refuses it: "the argv of a worker, as {\"/path/to/ebb\", \"worker\"}".
	Want string

	// Shapes is the provider's Shapes field: cluster.CheckShapes checks
	// it and it is replaced by CheckShapes' copy. Shape, when not nil,
	// checks each shape for the engine.
	Shapes *[]cluster.Shape
	Shape  func(cluster.Shape) error

	// Durations are the provider's duration fields: a negative one is
	// refused, a zero one gets its default.
	Durations []Duration

	// Logger is the provider's Logger field: nil gets a logger that
	// discards.
	Logger **slog.Logger
}

// A Duration is a duration field of a provider's Config: its name, the
// field, and its default.
type Duration struct {
	Name    string
	Value   *time.Duration
	Default time.Duration
}

// CheckProvider checks and fills in the fields pc points at, in this
// order: Bootstrap.Command, Shapes, Durations, then the loggers. It
// returns an error wrapping ebb.ErrInvalid that names the first bad field
// and its value, as "Config.Shapes[1]: shape "big": ...", for the caller
// to prefix with its package's name.
func CheckProvider(pc ProviderConfig) error {
	if cmd := pc.Bootstrap.Command; len(cmd) == 0 || cmd[0] == "" {
		return fmt.Errorf("Config.Bootstrap.Command %q: want %s: %w", cmd, pc.Want, ebb.ErrInvalid)
	}
	shapes, err := cluster.CheckShapes(*pc.Shapes)
	if err != nil {
		return fmt.Errorf("Config.%w", err)
	}
	for i, s := range shapes {
		if pc.Shape == nil {
			break
		}
		if err := pc.Shape(s); err != nil {
			return fmt.Errorf("Config.Shapes[%d]: %w", i, err)
		}
	}
	*pc.Shapes = shapes
	for _, d := range pc.Durations {
		switch {
		case *d.Value < 0:
			return fmt.Errorf("Config.%s %v: must not be negative: %w", d.Name, *d.Value, ebb.ErrInvalid)
		case *d.Value == 0:
			*d.Value = d.Default
		}
	}
	if *pc.Logger == nil {
		*pc.Logger = slog.New(slog.DiscardHandler)
	}
	if pc.Bootstrap.Logger == nil {
		pc.Bootstrap.Logger = *pc.Logger
	}
	return nil
}
