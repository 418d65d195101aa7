package router_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"appealhub/schemas"
)

// sqlInjections are the strings of §3.6, with the LIKE wildcards, a NUL, invalid UTF-8 and 10 KB.
var sqlInjections = []struct{ name, value string }{
	{"or-true", `' OR 1=1--`},
	{"drop", `'; DROP TABLE appeals;--`},
	{"dollar quotes", `$$`},
	{"pg_sleep", `(SELECT pg_sleep(5))`},
	{"stacked", `1; SELECT pg_sleep(5)`},
	{"like wildcards", `%_\`},
	{"NUL", "a\x00b"},
	{"invalid UTF-8", "a\xffb"},
	{"10 KB", strings.Repeat("'", 10<<10)},
}

// TestAttackSQLInjection: every injection string in every path and query parameter and in the
// string fields of submissions and authority messages is answered with the route's refusal or a
// normal answer, never a 5xx; refusals store nothing, and the tables are intact after all of it.
func TestAttackSQLInjection(t *testing.T) {
	t.Parallel()
	b := newAttackBundle(t)
	caseA, aPath := b.caseA.receipt.ID, "/v1/authorities/"+attackJSON
	stats := "/v1/stats?from=2026-01-01&to=2026-12-31&"
	// Each route takes the injection where {p} (path-escaped) or {q} (query-escaped) stands.
	// NUL and invalid UTF-8 are refused before any route: 404 in a path, 400 in a query. except
	// lists the other injections a route refuses with 400 schema_violation though it answers the
	// rest normally.
	tenKB := map[string]bool{"10 KB": true}
	routes := []struct {
		method, path, token string
		status              int
		code                schemas.Code
		except              map[string]bool
	}{
		{http.MethodGet, "/v1/appeals/{p}", b.portalA, 404, schemas.CodeNotFound, nil},
		{http.MethodGet, "/v1/appeals/{p}/events", b.portalA, 404, schemas.CodeNotFound, nil},
		{http.MethodGet, "/v1/appeals/" + caseA + "/events?after={q}", b.portalA, 400, schemas.CodeSchemaViolation, nil},
		{http.MethodGet, "/v1/appeals/" + caseA + "/events?limit={q}", b.portalA, 400, schemas.CodeSchemaViolation, nil},
		{http.MethodGet, "/v1/appeals/{p}/receipts", b.portalA, 404, schemas.CodeNotFound, nil},
		{http.MethodGet, "/v1/appeals/" + caseA + "/receipts/{p}", b.portalA, 404, schemas.CodeNotFound, nil},
		{http.MethodGet, "/v1/track/{p}", "", 404, schemas.CodeNotFound, nil},
		{http.MethodGet, "/v1/track/" + b.caseA.receipt.TrackingNumber + "?code={q}", "", 404, schemas.CodeNotFound, nil},
		{http.MethodPost, "/v1/notifications/dead/{p}/redrive", b.portalA, 404, schemas.CodeNotFound, nil},
		{http.MethodGet, "/v1/notifications/dead?limit={q}", b.portalA, 400, schemas.CodeSchemaViolation, nil},
		{http.MethodGet, "/v1/notifications/dead?client={q}", b.operator, 200, "", nil},
		{http.MethodGet, "/v1/authorities?q={q}", b.operator, 200, "", tenKB},
		{http.MethodGet, "/v1/authorities?territory={q}", b.operator, 400, schemas.CodeSchemaViolation, nil},
		{http.MethodGet, "/v1/authorities?kind={q}", b.operator, 400, schemas.CodeSchemaViolation, nil},
		{http.MethodGet, "/v1/authorities?topic={q}", b.operator, 400, schemas.CodeSchemaViolation, nil},
		{http.MethodGet, "/v1/authorities?status={q}", b.operator, 400, schemas.CodeSchemaViolation, nil},
		{http.MethodGet, "/v1/authorities?parent={q}", b.operator, 200, "", nil},
		{http.MethodGet, "/v1/authorities?page={q}", b.operator, 400, schemas.CodeSchemaViolation, nil},
		{http.MethodGet, "/v1/authorities?per_page={q}", b.operator, 400, schemas.CodeSchemaViolation, nil},
		{http.MethodGet, "/v1/authorities/{p}", b.operator, 404, schemas.CodeNotFound, nil},
		{http.MethodGet, "/v1/authorities/{p}/history", b.operator, 404, schemas.CodeNotFound, nil},
		{http.MethodGet, "/v1/authorities/{p}/delivery", b.operator, 404, schemas.CodeNotFound, nil},
		{http.MethodPost, "/v1/authorities/{p}/suspend?reason={q}", b.operator, 404, schemas.CodeNotFound, nil},
		{http.MethodDelete, aPath + "/pending/{p}", b.operator, 404, schemas.CodeNotFound, nil},
		{http.MethodGet, "/v1/overdue?authority={q}", b.operator, 400, schemas.CodeSchemaViolation, nil},
		{http.MethodGet, "/v1/overdue?kind={q}", b.operator, 400, schemas.CodeSchemaViolation, nil},
		{http.MethodGet, "/v1/overdue?limit={q}", b.operator, 400, schemas.CodeSchemaViolation, nil},
		{http.MethodGet, "/v1/overdue?cursor={q}", b.operator, 400, schemas.CodeSchemaViolation, nil},
		{http.MethodGet, stats + "authority={q}", b.operator, 400, schemas.CodeSchemaViolation, nil},
		{http.MethodGet, stats + "region={q}", b.operator, 400, schemas.CodeSchemaViolation, nil},
		{http.MethodGet, stats + "kind={q}", b.operator, 400, schemas.CodeSchemaViolation, nil},
		{http.MethodGet, stats + "topic={q}", b.operator, 200, "", tenKB},
		{http.MethodGet, stats + "group_by={q}", b.operator, 400, schemas.CodeSchemaViolation, nil},
		{http.MethodGet, "/v1/stats?from={q}&to=2026-12-31", b.operator, 400, schemas.CodeSchemaViolation, nil},
		{http.MethodGet, "/v1/directory?q={q}", "", 200, "", tenKB},
		{http.MethodGet, "/v1/directory?territory={q}", "", 400, schemas.CodeSchemaViolation, nil},
		{http.MethodGet, "/v1/directory?topic={q}", "", 400, schemas.CodeSchemaViolation, nil},
		{http.MethodGet, "/v1/authorities/{p}/inbox", b.authA, 404, schemas.CodeNotFound, nil},
		{http.MethodGet, aPath + "/inbox?limit={q}", b.authA, 400, schemas.CodeSchemaViolation, nil},
		{http.MethodGet, aPath + "/inbox/{p}", b.authA, 404, schemas.CodeNotFound, nil},
		{http.MethodPost, aPath + "/inbox/{p}/ack", b.authA, 404, schemas.CodeNotFound, nil},
		{http.MethodPost, "/v1/authorities/{p}/messages", b.authA, 404, schemas.CodeNotFound, nil},
	}
	for _, rt := range routes {
		for _, inj := range sqlInjections {
			path := strings.ReplaceAll(rt.path, "{p}", url.PathEscape(inj.value))
			path = strings.ReplaceAll(path, "{q}", url.QueryEscape(inj.value))
			a := attack{method: rt.method, path: path, token: rt.token, status: rt.status, code: rt.code}
			switch {
			case unclean(inj.value) && strings.Contains(rt.path, "{p}"):
				a.status, a.code = 404, schemas.CodeNotFound
			case unclean(inj.value):
				a.status, a.code = 400, schemas.CodeSchemaViolation
			case rt.except[inj.name]:
				a.status, a.code = 400, schemas.CodeSchemaViolation
			}
			t.Run(rt.method+" "+rt.path+" "+inj.name, func(t *testing.T) { b.run(t, a) })
		}
	}

	// The string fields of a submission: stored as they are, or refused with their problem.
	type field struct {
		set    func(m map[string]any, v string)
		maxLen int // 0: the field has a pattern no injection matches
	}
	applicant := func(k string) func(m map[string]any, v string) {
		return func(m map[string]any, v string) { m["applicant"].(map[string]any)[k] = v }
	}
	top := func(k string) func(m map[string]any, v string) { return func(m map[string]any, v string) { m[k] = v } }
	fields := map[string]field{
		"surname":              {applicant("surname"), 200},
		"address":              {applicant("address"), 500},
		"category":             {applicant("category"), 200},
		"subject":              {top("subject"), 1000},
		"text":                 {top("text"), 100000},
		"portal_submission_id": {top("portal_submission_id"), 0},
		"topic":                {top("topic"), 0},
		"territory":            {top("territory"), 0},
		"email":                {applicant("email"), 0},
		"phone":                {applicant("phone"), 0},
	}
	// Refusals run first, while nothing else moves; the normal requests, which set deliveries
	// going, after them.
	type named struct {
		name string
		a    attack
	}
	var refusals, normal []named
	add := func(name string, a attack) {
		if a.writes {
			normal = append(normal, named{name, a})
		} else {
			refusals = append(refusals, named{name, a})
		}
	}
	for name, f := range fields {
		for _, inj := range sqlInjections {
			m := map[string]any{}
			require.NoError(t, json.Unmarshal(bytesOf(t, b), &m))
			f.set(m, inj.value)
			body, err := json.Marshal(m)
			require.NoError(t, err)
			if inj.name == "invalid UTF-8" { // json.Marshal would replace the byte
				body = bytes.Replace(body, []byte(`a\ufffdb`), []byte("a\xffb"), 1)
			}
			a := attack{method: http.MethodPost, path: "/v1/appeals", token: b.portalA,
				header: jsonHeader(fmt.Sprintf("sqli-%s-%s", name, inj.name)), body: body}
			switch {
			case inj.name == "NUL":
				a.status, a.code = 400, schemas.CodeNULCharacter
			case inj.name == "invalid UTF-8":
				a.status, a.code = 400, schemas.CodeInvalidUTF8
			case name == "portal_submission_id" && opaqueID(inj.value):
				a.status, a.writes = 202, true // an opaque id of the portal's
			case f.maxLen == 0 || len([]rune(inj.value)) > f.maxLen:
				a.status, a.code = 400, schemas.CodeSchemaViolation
			default:
				a.status, a.writes = 202, true
			}
			add("submission "+name+" "+inj.name, a)
		}
	}

	// The string fields of an authority's message.
	for i, inj := range sqlInjections {
		str := jsonString(inj.value)
		msg := func(typ, id, of, extra string) []byte {
			return fmt.Appendf(nil, `{"format":"appealhub.message.v1","message_id":%s,"of":%s,"type":%q%s}`, id, of, typ, extra)
		}
		msgs := []struct {
			name   string
			body   []byte
			status int
			code   schemas.Code
		}{
			{"of", msg("delivered", jsonString(fmt.Sprintf("sqli-of-%d", i)), str, ""), 404, schemas.CodeNotFound},
			{"message_id", msg("delivered", str, jsonString(b.caseA.delivery), ""), 200, ""},
			{"registration_number", msg("registered", jsonString(fmt.Sprintf("sqli-reg-%d", i)), jsonString(b.caseA.delivery),
				`,"registration_number":`+str+`,"registration_date":"2026-11-27T09:30:00Z"`), 200, ""},
		}
		for _, m := range msgs {
			a := attack{method: http.MethodPost, path: aPath + "/messages", token: b.authA,
				header: http.Header{"Content-Type": {"application/json"}}, body: m.body, status: m.status, code: m.code, writes: m.status == 200}
			switch {
			case inj.name == "NUL":
				a.status, a.code, a.writes = 400, schemas.CodeNULCharacter, false
			case inj.name == "invalid UTF-8":
				a.body = bytes.Replace(a.body, []byte(`a\ufffdb`), []byte("a\xffb"), 1)
				a.status, a.code, a.writes = 400, schemas.CodeInvalidUTF8, false
			case m.name != "registration_number" && !opaqueID(inj.value):
				a.status, a.code, a.writes = 400, schemas.CodeSchemaViolation, false
			case m.name == "registration_number" && len(inj.value) > 100:
				a.status, a.code, a.writes = 400, schemas.CodeSchemaViolation, false
			}
			add("message "+m.name+" "+inj.name, a)
		}
	}
	for _, n := range append(refusals, normal...) {
		t.Run(n.name, func(t *testing.T) {
			before := b.state(t)
			b.run(t, n.a)
			if n.a.writes && n.a.path == "/v1/appeals" {
				require.Equal(t, before.Totals.Appeals+1, b.state(t).Totals.Appeals, "stored as one case")
			}
		})
	}
	tables := b.state(t)
	require.Positive(t, tables.Totals.Appeals, "the appeals table is there and holds the cases")
}

// unclean reports whether s holds a NUL or is not UTF-8.
func unclean(s string) bool { return !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 }

// opaqueID reports whether s is 1 to 200 printable ASCII characters without spaces.
func opaqueID(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// bytesOf is a valid submission of portal A to authority A.
func bytesOf(t *testing.T, b *attackBundle) []byte {
	t.Helper()
	body, err := json.Marshal(map[string]any{"case_kind": "appeal", "appeal_kind": "proposal", "addressees": []string{attackJSON},
		"applicant": map[string]any{"surname": "Ін'єкція", "name": "Тест"}, "subject": "Тема", "text": "Текст."})
	require.NoError(t, err)
	return body
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestAttackCMSGarbage: garbage where a CAdES signature should be is refused with its problem,
// never a 5xx, and nothing is stored.
func TestAttackCMSGarbage(t *testing.T) {
	t.Parallel()
	b := newAttackBundle(t)
	text := "Прошу перевірити."
	good := b.pki.Sign(t, "ec256", []byte(text))
	random := func(n int) []byte {
		v := make([]byte, n)
		_, _ = rand.Read(v)
		return v
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)-1] ^= 0xff
	nested := bytes.Repeat([]byte{0x30, 0x80}, 100000) // 100,000 indefinite-length SEQUENCEs
	tests := []struct {
		name   string
		value  []byte
		status int
		code   schemas.Code
	}{
		{"random bytes", random(1024), 422, schemas.CodeSignatureMalformed},
		{"one byte", []byte{0x30}, 422, schemas.CodeSignatureMalformed},
		{"truncated", good[:len(good)/2], 422, schemas.CodeSignatureMalformed},
		{"trailing garbage", append(bytes.Clone(good), random(16)...), 422, schemas.CodeSignatureMalformed},
		{"last byte flipped", flipped, 422, schemas.CodeDigestMismatch},
		{"PEM", pem.EncodeToMemory(&pem.Block{Type: "CMS", Bytes: good}), 422, schemas.CodeSignatureMalformed},
		{"a certificate", b.pki.Cert(t, "ec256").Raw, 422, schemas.CodeSignatureMalformed},
		{"100,000-deep ASN.1", nested, 422, schemas.CodeSignatureMalformed},
		{"1.4 MiB of random bytes", random(1400 << 10), 413, schemas.CodeSignatureTooLarge},
		{"2 MiB of random bytes", random(2 << 20), 400, schemas.CodeSchemaViolation},
		{"another document's signature", b.pki.Sign(t, "ec256", []byte("Інший текст.")), 422, schemas.CodeDigestMismatch},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := signedSubmission(t, text, nil, []schemas.Signature{cades("text", tt.value)}, attackJSON)
			b.run(t, attack{method: http.MethodPost, path: "/v1/appeals", token: b.portalA, header: jsonHeader(fmt.Sprintf("cms-%d", i)),
				body: body, status: tt.status, code: tt.code})
		})
	}
	// The control: the good signature is accepted.
	b.run(t, attack{method: http.MethodPost, path: "/v1/appeals", token: b.portalA, header: jsonHeader("cms-good"),
		body: signedSubmission(t, text, nil, []schemas.Signature{cades("text", good)}, attackJSON), status: 202, writes: true})
}
