package sim

import (
	"context"
	"log/slog"
	"time"

	"github.com/ebbflow/ebb/stealer"
)

// logPlan writes plan's decisions to the run's log (see Config.Log):
// each request, cancel and drain with its reason, each keep whose alloc
// the last plan did not keep for the same reason, and the Hold when it
// differs from the last one logged, since a policy that holds, or keeps,
// says so at every tick.
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
	if len(plan.Keep) > 0 || len(e.kept) > 0 {
		kept := make(map[string]string, len(plan.Keep))
		for _, k := range plan.Keep {
			if e.kept[k.AllocID] != k.Reason {
				e.log.LogAttrs(ctx, slog.LevelInfo, "keep", t, slog.String("reason", k.Reason))
			}
			kept[k.AllocID] = k.Reason
		}
		e.kept = kept
	}
	if plan.Hold != e.lastHold {
		e.lastHold = plan.Hold
		if plan.Hold != "" {
			e.log.LogAttrs(ctx, slog.LevelInfo, "hold", t, slog.String("reason", plan.Hold))
		}
	}
}
