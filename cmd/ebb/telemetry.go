package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/ebbflow/ebb/runner"
	"github.com/ebbflow/ebb/runner/amqpsink"
	"github.com/ebbflow/ebb/tracing"
	"github.com/ebbflow/ebb/tracing/export"
)

// telemetryFlags are run's and resume's flags that send the run's
// telemetry out: its events to an AMQP exchange, its metrics to
// Prometheus; OTLP comes from the OTEL_* environment (tracing/export).
type telemetryFlags struct {
	amqp     string
	exchange string
	metrics  string
}

func (f *telemetryFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.amqp, "amqp", "", "publish the run's events to the AMQP broker at `URL` (amqp://user:password@host:5672/vhost), with HyperFlow's routing keys (job.ID.started, job.ID.finished, ...) and JSON bodies")
	fs.StringVar(&f.exchange, "amqp-exchange", amqpsink.DefaultExchange, "the topic exchange -amqp publishes to")
	fs.StringVar(&f.metrics, "metrics", "", "serve the run's metrics for Prometheus on `ADDR` (as 127.0.0.1:9464; port 0 picks one, printed on stderr), at /metrics")
}

// telemetryTimeout bounds how long the end of a run waits for the
// broker's confirmations and the last exports.
const telemetryTimeout = 10 * time.Second

// startTelemetry sets up what f and the OTEL_* environment ask for on
// cfg: its Tracing providers (and tracing clusters around cfg.Cluster and
// cfg.Aux), an AMQP sink on its Events (made if unset), a Prometheus
// endpoint. The returned stop flushes and closes it all; call it once the
// run is over. It reports where things go on stderr unless quiet.
//
// A backend that fails at the end (the last export refused, the broker's
// confirmations not all back) is a warning on stderr, quiet or not: the
// run's result and exit status are those of its tasks, not of its
// telemetry.
func startTelemetry(ctx context.Context, f telemetryFlags, cfg *runner.Config, quiet bool, stderr io.Writer) (stop func(), err error) {
	var stops []func(context.Context) error
	flush := func() error {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), telemetryTimeout)
		defer cancel()
		var errs []error
		for i := len(stops) - 1; i >= 0; i-- {
			errs = append(errs, stops[i](sctx))
		}
		return errors.Join(errs...)
	}
	stop = func() {
		if err := flush(); err != nil {
			fmt.Fprintf(stderr, "ebb: warning: telemetry not all delivered: %v\n", err)
		}
	}
	defer func() {
		if err != nil {
			flush()
		}
	}()
	say := func(format string, args ...any) {
		if !quiet {
			fmt.Fprintf(stderr, "ebb: "+format+"\n", args...)
		}
	}

	providers, err := export.New(ctx, export.Config{Prometheus: f.metrics != ""})
	if err != nil {
		return nil, err
	}
	stops = append(stops, providers.Shutdown)
	if providers.Traces != "" {
		say("traces to %s", providers.Traces)
	}
	if providers.Metrics != "" && providers.Metrics != "prometheus" {
		say("metrics to %s", providers.Metrics)
	}
	if t := providers.Tracing; t.TracerProvider != nil || t.MeterProvider != nil {
		cfg.Tracing = t
		wrapped := tracing.Wrap(cfg.Cluster, t)
		if cfg.Aux == cfg.Cluster {
			cfg.Aux = wrapped // one wrapper a cluster, or its allocs count twice
		} else if cfg.Aux != nil {
			cfg.Aux = tracing.Wrap(cfg.Aux, t)
		}
		cfg.Cluster = wrapped
	}

	if f.metrics != "" {
		ln, err := net.Listen("tcp", f.metrics)
		if err != nil {
			return nil, fmt.Errorf("-metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", providers.Handler)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		served := make(chan struct{})
		go func() {
			defer close(served)
			srv.Serve(ln) // returns ErrServerClosed at Shutdown
		}()
		stops = append(stops, func(ctx context.Context) error {
			err := srv.Shutdown(ctx)
			if err != nil {
				srv.Close()
			}
			<-served
			return nil
		})
		say("metrics on http://%s/metrics", ln.Addr())
	}

	if f.amqp != "" {
		if cfg.Events == nil {
			cfg.Events = runner.NewEventBus()
		}
		sink, err := amqpsink.Start(ctx, cfg.Events, amqpsink.Config{URL: f.amqp, Exchange: f.exchange})
		if err != nil {
			return nil, fmt.Errorf("-amqp: %w", err)
		}
		stops = append(stops, sink.Close)
		say("events to exchange %s", f.exchange)
	}
	return stop, nil
}
