package adapters_test

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"appealhub/adapters"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type stubAdapter struct{ name string }

func (s stubAdapter) Name() string                             { return s.name }
func (s stubAdapter) MediaType() string                        { return "text/plain" }
func (s stubAdapter) Encode(adapters.Document) ([]byte, error) { return nil, nil }
func (s stubAdapter) DecodeReply(string, []byte) (adapters.Reply, error) {
	return adapters.Reply{}, nil
}

func TestRegistry(t *testing.T) {
	t.Parallel()

	r := adapters.NewRegistry()
	require.Empty(t, r.Names())
	require.NoError(t, r.Register(stubAdapter{name: "xml"}))
	require.NoError(t, r.Register(stubAdapter{name: "json"}))
	r.MustRegister(stubAdapter{name: "csv"})

	require.Equal(t, []string{"csv", "json", "xml"}, r.Names())

	a, ok := r.Get("json")
	require.True(t, ok)
	require.Equal(t, "json", a.Name())
	_, ok = r.Get("nope")
	require.False(t, ok)

	err := r.Register(stubAdapter{name: "json"})
	require.ErrorIs(t, err, adapters.ErrDuplicateName)
	require.ErrorContains(t, err, `"json"`)
	require.Error(t, r.Register(stubAdapter{name: ""}))
	require.Error(t, r.Register(nil))
	require.Panics(t, func() { r.MustRegister(stubAdapter{name: "xml"}) })
	require.Equal(t, []string{"csv", "json", "xml"}, r.Names(), "failed registrations change nothing")
}

func TestRegistryConcurrent(t *testing.T) {
	t.Parallel()

	r := adapters.NewRegistry()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			require.NoError(t, r.Register(stubAdapter{name: fmt.Sprintf("a%02d", i)}))
			_, ok := r.Get(fmt.Sprintf("a%02d", i))
			require.True(t, ok)
			_ = r.Names()
		})
	}
	wg.Wait()
	require.Len(t, r.Names(), 16)
}

func TestPermanent(t *testing.T) {
	t.Parallel()

	require.NoError(t, adapters.Permanent(nil))
	require.False(t, adapters.IsPermanent(nil))
	require.False(t, adapters.IsPermanent(io.EOF))

	p := adapters.Permanent(io.EOF)
	require.True(t, adapters.IsPermanent(p))
	require.ErrorIs(t, p, io.EOF, "the cause stays reachable")
	require.Equal(t, io.EOF.Error(), p.Error())
	require.Same(t, p, adapters.Permanent(p), "marking twice changes nothing")

	wrapped := fmt.Errorf("send delivery: %w", p)
	require.True(t, adapters.IsPermanent(wrapped), "wrapping keeps the mark")
	require.True(t, adapters.IsPermanent(errors.Join(io.ErrUnexpectedEOF, p)))
	require.False(t, adapters.IsPermanent(fmt.Errorf("send delivery: %v", p)), "only wrapping keeps the mark")
}
