// Package tracing is the hub's OpenTelemetry tracing: one TracerProvider per hub process, spans
// that continue the W3C trace context (traceparent) the portal sent, and helpers that read and
// write traceparent strings, the form in which trace context is stored with a case, carried in
// outbox rows and AMQP headers, and sent to authorities' systems.
//
// Trace context flows whatever the exporter: with exporter none (the default) spans get their ids
// and are propagated and logged, but nothing is exported.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// The exporters Config.Exporter names.
const (
	ExporterNone   = "none"
	ExporterStdout = "stdout"
	ExporterOTLP   = "otlp"
)

// instrumentation is the name of the hub's tracer.
const instrumentation = "appealhub"

// Config configures tracing.
type Config struct {
	// Exporter is where finished spans go: ExporterNone, ExporterStdout or ExporterOTLP (OTLP over
	// HTTP). Defaults to ExporterNone.
	Exporter string
	// Endpoint is the OTLP/HTTP URL of the otlp exporter (e.g. http://collector:4318/v1/traces).
	// Defaults to the exporter's own default (OTEL_EXPORTER_OTLP_ENDPOINT, else localhost:4318).
	Endpoint string
	// SampleRatio is the fraction of the traces begun at the hub that are sampled; a trace begun by
	// the portal follows the portal's decision (its traceparent flags). Values outside (0, 1] mean 1.
	SampleRatio float64
	// ServiceName and ServiceVersion describe the process in exported spans. ServiceName defaults
	// to "appealhub".
	ServiceName, ServiceVersion string
	// SpanExporter, when set, receives every span synchronously as it ends, whatever Exporter says
	// (for tests: go.opentelemetry.io/otel/sdk/trace/tracetest.InMemoryExporter).
	SpanExporter sdktrace.SpanExporter
	// Writer is where the stdout exporter writes. Defaults to os.Stdout.
	Writer io.Writer
}

// Tracer starts the hub's spans. It is safe for concurrent use; a nil *Tracer starts spans that
// record nothing and carry the parent's context on.
type Tracer struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
}

// New returns a Tracer with the exporter cfg names. The otlp exporter connects lazily: New does not
// fail when the collector is down (spans are dropped while it is).
func New(ctx context.Context, cfg Config) (*Tracer, error) {
	ratio := cfg.SampleRatio
	if ratio <= 0 || ratio > 1 {
		ratio = 1
	}
	name := cfg.ServiceName
	if name == "" {
		name = "appealhub"
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name)}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.ServiceVersion))
	}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
	}
	switch {
	case cfg.SpanExporter != nil:
		opts = append(opts, sdktrace.WithSyncer(cfg.SpanExporter))
	case cfg.Exporter == "" || cfg.Exporter == ExporterNone:
	case cfg.Exporter == ExporterStdout:
		w := cfg.Writer
		if w == nil {
			w = os.Stdout
		}
		exp, err := stdouttrace.New(stdouttrace.WithWriter(w))
		if err != nil {
			return nil, fmt.Errorf("tracing: stdout exporter: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	case cfg.Exporter == ExporterOTLP:
		var eopts []otlptracehttp.Option
		if cfg.Endpoint != "" {
			eopts = append(eopts, otlptracehttp.WithEndpointURL(cfg.Endpoint))
		}
		exp, err := otlptracehttp.New(ctx, eopts...)
		if err != nil {
			return nil, fmt.Errorf("tracing: otlp exporter: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	default:
		return nil, fmt.Errorf("tracing: unknown exporter %q (want none, stdout or otlp)", cfg.Exporter)
	}
	tp := sdktrace.NewTracerProvider(opts...)
	return &Tracer{provider: tp, tracer: tp.Tracer(instrumentation)}, nil
}

// Shutdown flushes the spans not yet exported and stops the exporter, bounded by ctx. Idempotent;
// a nil Tracer has nothing to do.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	if err := t.provider.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("tracing: shut down: %w", err)
	}
	return nil
}

// Kind is the role of a span (OpenTelemetry's span kind).
type Kind int

// Kinds.
const (
	Internal Kind = iota
	Server        // the hub answers a request (intake)
	Client        // the hub calls another system (a send to an authority's system)
	Producer      // the hub publishes a message (the relay)
	Consumer      // the hub handles a message (a delivery attempt)
)

func (k Kind) otel() trace.SpanKind {
	switch k {
	case Server:
		return trace.SpanKindServer
	case Client:
		return trace.SpanKindClient
	case Producer:
		return trace.SpanKindProducer
	case Consumer:
		return trace.SpanKindConsumer
	default:
		return trace.SpanKindInternal
	}
}

// Start starts a span named name. Its parent is the span in ctx when there is one, else the remote
// span of traceParent (a W3C traceparent; a malformed or empty one is ignored), else it begins a
// new trace. The returned context carries the span; End it.
func (t *Tracer) Start(ctx context.Context, name string, kind Kind, traceParent string) (context.Context, Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() && traceParent != "" {
		ctx = Continue(ctx, traceParent)
	}
	if t == nil {
		return ctx, Span{}
	}
	ctx, s := t.tracer.Start(ctx, name, trace.WithSpanKind(kind.otel()))
	return ctx, Span{s: s}
}

// Span is a span in progress. The zero Span does nothing.
type Span struct {
	s trace.Span
}

// Set records a string attribute (ids and codes only: never personal data).
func (s Span) Set(key, value string) {
	if s.s != nil {
		s.s.SetAttributes(attribute.String(key, value))
	}
}

// End ends the span, marking it failed with err when err is not nil.
func (s Span) End(err error) {
	if s.s == nil {
		return
	}
	if err != nil {
		s.s.RecordError(err)
		s.s.SetStatus(codes.Error, err.Error())
	}
	s.s.End()
}

// Continue returns ctx with the remote span of traceParent as its parent span context; a
// malformed or empty traceParent leaves ctx as it is.
func Continue(ctx context.Context, traceParent string) context.Context {
	if traceParent == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": traceParent})
}

// TraceParent returns the W3C traceparent of the span in ctx, or "" when ctx carries none.
func TraceParent(ctx context.Context) string {
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	return c["traceparent"]
}

// TraceID returns the trace id (32 hex digits) of the span in ctx, or "" when ctx carries none.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

// TraceIDOf returns the trace id of a W3C traceparent ("version-traceid-parentid-flags"), or ""
// when it is not one.
func TraceIDOf(traceParent string) string {
	sc := trace.SpanContextFromContext(Continue(context.Background(), traceParent))
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}
