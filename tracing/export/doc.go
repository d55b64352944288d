// Package export makes the OpenTelemetry providers that send ebb's
// telemetry ([tracing.Config]) out of the process: OTLP traces and metrics
// configured by the standard OTEL_* environment, and Prometheus metrics
// served over HTTP. It is what `ebb run` uses; a program that embeds ebb
// may use it, or build its own providers and pass them in a
// tracing.Config.
//
// Nothing here reads or sets OpenTelemetry's global providers: [New]
// returns them, and the caller passes them on and shuts them down.
//
// # The environment
//
// OTLP goes out over HTTP (http/protobuf) when an endpoint is set:
//
//	OTEL_EXPORTER_OTLP_ENDPOINT          base URL for both signals (http://host:4318)
//	OTEL_EXPORTER_OTLP_TRACES_ENDPOINT   full URL for traces only (.../v1/traces)
//	OTEL_EXPORTER_OTLP_METRICS_ENDPOINT  full URL for metrics only (.../v1/metrics)
//	OTEL_EXPORTER_OTLP_PROTOCOL          http/protobuf (the default); grpc is refused
//	OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER
//	                                     otlp (the default) or none
//	OTEL_SDK_DISABLED=true               no OTLP at all
//	OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
//	                                     the resource (service.name defaults to ebb)
//
// The exporters and the SDK read the rest themselves: headers, timeouts,
// TLS and compression (OTEL_EXPORTER_OTLP_HEADERS, ..._TIMEOUT,
// ..._CERTIFICATE, ..._COMPRESSION), the sampler (OTEL_TRACES_SAMPLER and
// its _ARG), the batch span processor (OTEL_BSP_*) and the metric export
// interval (OTEL_METRIC_EXPORT_INTERVAL).
//
// # Prometheus
//
// With [Config.Prometheus], the meter provider also feeds a Prometheus
// registry of its own (not the client library's global one), served by
// [Providers.Handler] in the text exposition format. OpenTelemetry names
// become Prometheus names as the exporter translates them: ebb.tasks, a
// counter of {task}, is ebb_tasks_total; ebb.task.duration, in s, is the
// histogram ebb_task_duration_seconds.
package export
