package tracing_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"

	"appealhub/internal/tracing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	portalTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	portalSpan  = "00f067aa0ba902b7"
	portalTP    = "00-" + portalTrace + "-" + portalSpan + "-01"
)

type testBundle struct {
	tracer   *tracing.Tracer
	exporter *tracetest.InMemoryExporter
}

func setup(t *testing.T) testBundle {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tr, err := tracing.New(context.Background(), tracing.Config{SpanExporter: exp})
	require.NoError(t, err)
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return testBundle{tracer: tr, exporter: exp}
}

// TestStartContinuesTheTraceParent: a span without a parent in ctx continues the traceparent; its
// child continues the span in ctx, not the traceparent it is given; both reach the exporter.
func TestStartContinuesTheTraceParent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, span := b.tracer.Start(context.Background(), "outer", tracing.Server, portalTP)
	span.Set("appeal_id", "a-1")
	tp := tracing.TraceParent(ctx)
	require.Equal(t, portalTrace, tracing.TraceIDOf(tp))
	require.Equal(t, portalTrace, tracing.TraceID(ctx))
	require.NotContains(t, tp, portalSpan, "the traceparent names the hub's span")

	other := "00-11111111111111111111111111111111-2222222222222222-01"
	_, child := b.tracer.Start(ctx, "inner", tracing.Client, other)
	child.End(errors.New("refused"))
	span.End(nil)

	spans := b.exporter.GetSpans()
	require.Len(t, spans, 2)
	inner, outer := spans[0], spans[1]
	require.Equal(t, "outer", outer.Name)
	require.Equal(t, portalSpan, outer.Parent.SpanID().String())
	require.True(t, outer.Parent.IsRemote())
	require.Equal(t, portalTrace, inner.SpanContext.TraceID().String())
	require.Equal(t, outer.SpanContext.SpanID(), inner.Parent.SpanID())
	require.Equal(t, "Error", inner.Status.Code.String())
	require.Equal(t, "a-1", outer.Attributes[0].Value.AsString())
}

func TestMalformedTraceParentStartsANewTrace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tp := range []string{"", "garbage", "00-00000000000000000000000000000000-" + portalSpan + "-01"} {
		ctx, span := b.tracer.Start(context.Background(), "root", tracing.Server, tp)
		span.End(nil)
		require.Len(t, tracing.TraceID(ctx), 32, tp)
		require.NotEqual(t, portalTrace, tracing.TraceID(ctx), tp)
	}
	for _, s := range b.exporter.GetSpans() {
		require.False(t, s.Parent.IsValid())
	}
}

// TestNilTracerCarriesTheParent: without a tracer the remote parent still flows on.
func TestNilTracerCarriesTheParent(t *testing.T) {
	t.Parallel()
	var tr *tracing.Tracer
	ctx, span := tr.Start(context.Background(), "x", tracing.Producer, portalTP)
	span.Set("k", "v")
	span.End(nil)
	require.Equal(t, portalTP, tracing.TraceParent(ctx))
	require.NoError(t, tr.Shutdown(context.Background()))
}

func TestTraceIDOf(t *testing.T) {
	t.Parallel()
	for tp, want := range map[string]string{
		portalTP:   portalTrace,
		"":         "",
		"nonsense": "",
		"00-" + portalTrace + "-0000000000000000-01": "",
	} {
		require.Equal(t, want, tracing.TraceIDOf(tp), tp)
	}
	require.Empty(t, tracing.TraceID(context.Background()))
	require.Empty(t, tracing.TraceParent(context.Background()))
}

func TestExporters(t *testing.T) {
	t.Parallel()
	_, err := tracing.New(context.Background(), tracing.Config{Exporter: "jaeger"})
	require.ErrorContains(t, err, "unknown exporter")

	var out bytes.Buffer
	tr, err := tracing.New(context.Background(), tracing.Config{Exporter: tracing.ExporterStdout, Writer: &out})
	require.NoError(t, err)
	_, span := tr.Start(context.Background(), "printed", tracing.Internal, portalTP)
	span.End(nil)
	require.NoError(t, tr.Shutdown(context.Background()))
	require.Contains(t, out.String(), `"Name":"printed"`)
	require.Contains(t, out.String(), portalTrace)

	for _, exporter := range []string{"", tracing.ExporterNone} {
		tr, err := tracing.New(context.Background(), tracing.Config{Exporter: exporter})
		require.NoError(t, err, exporter)
		ctx, span := tr.Start(context.Background(), "kept", tracing.Internal, "")
		span.End(nil)
		require.Len(t, tracing.TraceID(ctx), 32, "trace ids are given whatever the exporter")
		require.NoError(t, tr.Shutdown(context.Background()))
	}
	// The otlp exporter connects lazily: a collector that is not there does not fail New.
	tr, err = tracing.New(context.Background(), tracing.Config{Exporter: tracing.ExporterOTLP, Endpoint: "http://127.0.0.1:1/v1/traces"})
	require.NoError(t, err)
	require.NoError(t, tr.Shutdown(context.Background()))
}
