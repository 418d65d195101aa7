package router_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"appealhub/internal/hubtest"
	"appealhub/schemas"
)

// TestAttackJSONOnEveryEndpoint: every endpoint that takes a JSON body other than the submission
// (which TestAttackJSON covers) refuses the bodies encoding/json would accept silently — a
// duplicate key (it keeps the last), a key in another case (it matches case-insensitively),
// invalid UTF-8 (it substitutes U+FFFD), NUL (PostgreSQL text refuses it later), absurd numbers,
// deep nesting, trailing data — with the same stable codes as a submission, never a 5xx, and
// without changing the registry entry, the subscription or any case. CSV and YAML registry imports
// are refused likewise, all rows or none.
func TestAttackJSONOnEveryEndpoint(t *testing.T) {
	t.Parallel()
	b := newAttackBundle(t)
	jsonType := http.Header{"Content-Type": {"application/json"}}
	aPath := "/v1/authorities/" + attackJSON
	// A valid body of each endpoint; each bad body is made from it.
	endpoints := []struct {
		name, method, path, token, valid string
	}{
		{"add authority", http.MethodPost, "/v1/authorities", b.operator,
			`{"code":"` + validCode("1700009") + `","name":"Рада","kind":"local","territory":"UA46000000000000000","topics":["*"],` +
				`"accepts":["appeal"],"adapter":"json","endpoint":"http://127.0.0.1:1/","reason":"r"}`},
		{"update authority", http.MethodPatch, aPath, b.operator, `{"name":"Рада","reason":"r"}`},
		{"suspend authority", http.MethodPost, aPath + "/suspend", b.operator, `{"reason":"r"}`},
		{"subscribe", http.MethodPut, "/v1/notifications", b.portalA, `{"url":"http://127.0.0.1:1/hook","secret":"0123456789abcdef0123456789abcdef"}`},
		{"authority message", http.MethodPost, aPath + "/messages", b.authA,
			`{"format":"json","type":"registered","delivery_id":"` + b.caseA.delivery + `","message_id":"m-1","registration_number":"1","registration_date":"2026-01-01"}`},
	}
	bad := []struct {
		name string
		make func(valid string) string
		code schemas.Code
	}{
		{"duplicate key", func(v string) string { return `{"reason":"a","reason":"b",` + v[1:] }, schemas.CodeDuplicateKey},
		{"key in another case", func(v string) string { return `{"REASON":"x",` + v[1:] }, schemas.CodeSchemaViolation},
		{"invalid UTF-8", func(v string) string { return `{"reason":"a` + "\xff" + `b",` + v[1:] }, schemas.CodeInvalidUTF8},
		{"overlong UTF-8", func(v string) string { return `{"reason":"a` + "\xc0\xaf" + `b",` + v[1:] }, schemas.CodeInvalidUTF8},
		{"lone surrogate", func(v string) string { return `{"reason":"a\ud800b",` + v[1:] }, schemas.CodeInvalidUTF8},
		{"escaped NUL", func(v string) string { return `{"reason":"a\u0000b",` + v[1:] }, schemas.CodeNULCharacter},
		{"raw NUL", func(v string) string { return `{"reason":"a` + "\x00" + `b",` + v[1:] }, schemas.CodeNULCharacter},
		{"NUL in a key", func(v string) string { return `{"x\u0000":1,` + v[1:] }, schemas.CodeNULCharacter},
		{"1e400", func(v string) string { return `{"x":1e400,` + v[1:] }, schemas.CodeSchemaViolation},
		{"10,000-deep arrays", func(v string) string {
			return `{"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + "," + v[1:]
		}, schemas.CodeMalformedJSON},
		{"trailing data", func(v string) string { return v + v }, schemas.CodeMalformedJSON},
		{"not JSON", func(string) string { return "<a/>" }, schemas.CodeMalformedJSON},
	}

	snapshot := func() (string, string) {
		t.Helper()
		entry, err := hubtest.Do(context.Background(), http.MethodGet, b.hub.URL+aPath, b.operator, nil, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, entry.Status)
		sub, err := hubtest.Do(context.Background(), http.MethodGet, b.hub.URL+"/v1/notifications", b.portalA, nil, nil)
		require.NoError(t, err)
		require.Less(t, sub.Status, 500)
		if code, _ := sub.Problem(); code != "" { // none yet: the problem names the request, compare its code
			return string(entry.Body), fmt.Sprint(sub.Status, code)
		}
		return string(entry.Body), fmt.Sprint(sub.Status, string(sub.Body))
	}
	entryBefore, subBefore := snapshot()
	for _, e := range endpoints {
		for _, x := range bad {
			t.Run(e.name+"/"+x.name, func(t *testing.T) {
				b.run(t, attack{method: e.method, path: e.path, token: e.token, header: jsonType, body: []byte(x.make(e.valid)),
					status: http.StatusBadRequest, code: x.code})
			})
		}
	}
	entryAfter, subAfter := snapshot()
	require.Equal(t, entryBefore, entryAfter, "the registry entry is unchanged")
	require.Equal(t, subBefore, subAfter, "the subscription is unchanged")

	// Registry files: a bad row refuses the whole file.
	list := func() string {
		resp, err := hubtest.Do(context.Background(), http.MethodGet, b.hub.URL+"/v1/authorities", b.operator, nil, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.Status)
		return string(resp.Body)
	}
	before := list()
	csvHead := "code,name,kind,territory,topics,accepts,adapter,endpoint\n"
	row := func(code, name string) string {
		return code + "," + name + ",local,UA46000000000000000,*,appeal,json,http://127.0.0.1:1/\n"
	}
	for _, f := range []struct {
		name, mediaType, body string
	}{
		{"CSV with invalid UTF-8", "text/csv", csvHead + row(validCode("1700010"), "Рада") + row(validCode("1700011"), "Ра\xffда")},
		{"CSV with NUL", "text/csv", csvHead + row(validCode("1700010"), "Рада") + row(validCode("1700011"), "Ра\x00да")},
		{"YAML with invalid UTF-8", "application/yaml", "- code: \"" + validCode("1700012") + "\"\n  name: \"Ра\xffда\"\n"},
		{"YAML with escaped NUL", "application/yaml", "- code: \"" + validCode("1700012") + "\"\n  name: \"Ра\\0да\"\n"},
		{"YAML alias bomb", "application/yaml", "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n" +
			"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"},
	} {
		t.Run(f.name, func(t *testing.T) {
			resp, err := hubtest.Do(context.Background(), http.MethodPost, b.hub.URL+"/v1/authorities?reason=import", b.operator,
				http.Header{"Content-Type": {f.mediaType}}, []byte(f.body))
			require.NoError(t, err)
			require.Equal(t, http.StatusBadRequest, resp.Status, "%s", clipBody(resp.Body))
			code, _ := resp.Problem()
			require.NotEmpty(t, code)
		})
	}
	require.Equal(t, before, list(), "no row of a refused file is stored")
}
