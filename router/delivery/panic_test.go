package delivery_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"appealhub/adapters"
	"appealhub/adapters/jsondoc"
	"appealhub/router/delivery"
	"appealhub/schemas"
)

// panicky is the JSON adapter with a crash on chosen steps, as an adapter with a bug that one
// document sets off.
type panicky struct {
	adapters.Adapter
	onEncode, onReply bool
}

func (p panicky) Name() string { return "panicky" }

func (p panicky) Encode(doc adapters.Document) ([]byte, error) {
	if p.onEncode {
		var m map[string]int
		m["x"]++ // a nil map write: a runtime error
	}
	return p.Adapter.Encode(doc)
}

func (p panicky) DecodeReply(mediaType string, body []byte) (adapters.Reply, error) {
	if p.onReply {
		panic("reply holds " + string(body))
	}
	return p.Adapter.DecodeReply(mediaType, body)
}

// TestAdapterPanic: an adapter that panics while encoding a document makes the delivery dead at
// once, with the reason, and nothing sent — not a message requeued until the broker dead-letters
// it while the delivery stays queued; one that panics on the system's reply leaves the delivery
// sent (the system took it). Neither takes the worker down, and the panic's value, which may hold
// parts of the document, is not repeated.
func TestAdapterPanic(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		ad       panicky
		want     schemas.DeliveryStatus
		sends    int
		errorHas string
	}{
		{"encode", panicky{Adapter: jsondoc.New(), onEncode: true}, schemas.StatusDead, 0, "nil map"},
		{"reply", panicky{Adapter: jsondoc.New(), onReply: true}, schemas.StatusSent, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupWith(t, 8, nil)
			reg := adapters.NewRegistry()
			reg.MustRegister(tc.ad)
			b.store.task.Adapter = "panicky"
			b.transport.resp = adapters.Response{Status: 201, MediaType: "application/json", Body: []byte(`{"secret":"Тестенко"}`)}
			w := delivery.New(delivery.Config{MaxAttempts: 8, Clock: b.clock}, b.store, reg, b.transport, nil)
			require.Equal(t, delivery.Ack, w.Handle(context.Background(), msg()))
			require.Len(t, b.store.outcomes, 1)
			o := b.store.outcomes[0]
			require.Equal(t, tc.want, o.Status)
			require.Len(t, b.transport.reqs, tc.sends)
			if tc.errorHas != "" {
				require.Contains(t, o.Error, tc.errorHas)
				require.Contains(t, o.Error, "panicky adapter failed")
			}
			require.NotContains(t, o.Error, "Тестенко")
		})
	}
}
