package httpapi

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUnknownKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body    string
		pointer string // "" when every key names a field exactly
	}{
		{`{"code":"1","name":"x","reason":"r"}`, ""},
		{`{"code":"1","topics":["a"],"effective_at":"2026-01-01T00:00:00Z","version":3}`, ""},
		{`{"CODE":"1"}`, "/CODE"},
		{`{"code":"1","Reason":"r"}`, "/Reason"},
		{`{"code":"1","name":null}`, ""},
		{`{"a/b~c":1}`, "/a~1b~0c"},
	}
	for _, tt := range tests {
		var req struct {
			addRequest
			Version int64 `json:"version"`
		}
		dec := json.NewDecoder(strings.NewReader(tt.body))
		_ = dec.Decode(&req)
		got, bad := unknownKey([]byte(tt.body), &req)
		require.Equal(t, tt.pointer != "", bad, tt.body)
		require.Equal(t, tt.pointer, got, tt.body)
	}
}

// FuzzUnknownKey: for any JSON body that decodes into a registry request, the exact-key check
// never panics, and a key it reports is one the body has.
func FuzzUnknownKey(f *testing.F) {
	for _, s := range []string{`{"code":"1","name":"x"}`, `{"NAME":"x"}`, `{"topics":[{"a":1}]}`, `{"effective_at":null}`, `[]`, `{"":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req addRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if dec.Decode(&req) != nil {
			return
		}
		pointer, bad := unknownKey(body, &req)
		if !bad {
			return
		}
		require.True(t, strings.HasPrefix(pointer, "/"), pointer)
		key := strings.ReplaceAll(strings.ReplaceAll(strings.SplitN(pointer[1:], "/", 2)[0], "~1", "/"), "~0", "~")
		var obj map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(body, &obj))
		_, ok := obj[key]
		require.True(t, ok, "reported key %q is not in the body", key)
	})
}
