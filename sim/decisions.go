package sim

import (
	"context"
	"log/slog"
	"time"

	"github.com/ebbflow/ebb/stealer"
)

// logPlan writes plan's decisions to the run's log (see Config.Log):
// each request, cancel and drain with its reason, and the Hold when it
// differs from the last one logged, since a policy that holds says so
// at every tick.
func (e *engine) logPlan(plan stealer.Plan) {
	ctx := context.Background()
	t := slog.Duration("t", (e.now - e.t0).Round(time.Second))
	for _, r := range plan.Acquire {
		e.log.LogAttrs(ctx, slog.LevelInfo, "acquire", t, slog.String("reason", r.Reason))
	}
	for _, c := range plan.Cancel {
		e.log.LogAttrs(ctx, slog.LevelInfo, "cancel", t, slog.String("reason", c.Reason))
	}
	for _, d := range plan.Drain {
		e.log.LogAttrs(ctx, slog.LevelInfo, "drain", t, slog.String("reason", d.Reason))
	}
	if plan.Hold != e.lastHold {
		e.lastHold = plan.Hold
		if plan.Hold != "" {
			e.log.LogAttrs(ctx, slog.LevelInfo, "hold", t, slog.String("reason", plan.Hold))
		}
	}
}
