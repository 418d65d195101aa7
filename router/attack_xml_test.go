package router_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"appealhub/schemas"
)

// sevMessage is an SEV 1207 v1.5 message from authority B with the given id and body elements.
func sevMessage(msgID, inner string) string {
	return fmt.Sprintf(`<?xml version="1.0" encoding="utf-8"?>
<Header standart="1207" version="1.5" charset="UTF-8" time="2026-03-02T09:15:00+02:00" msg_type="0" msg_id="%s" msg_acknow="0" from_org_id="%s" from_organization="B" from_sys_id="sed" from_system="SED" to_org_id="00000000" to_organization="Appeal Hub" to_sys_id="APPEALHUB" to_system="appealhub">%s</Header>
`, msgID, attackSEV, inner)
}

// sevRegistered is an Acknowledgement (ack_type 3) of delivery of with a registration number.
func sevRegistered(of, number string) string {
	return fmt.Sprintf(`<Acknowledgement msg_id="%s" ack_type="3"><RegNumber regdate="2026-03-02">%s</RegNumber><AckResult errorcode="0" errortext=""/></Acknowledgement>`, of, number)
}

// sevAnswer is a Document that answers the deliveries it refers to, with one file.
func sevAnswer(refers ...string) string {
	var refs strings.Builder
	for _, of := range refers {
		fmt.Fprintf(&refs, `<Addressee type="0"><Referred idnumber="%s" retype="д"/></Addressee>`, of)
	}
	return `<Document idnumber="9981" type="0" title="Відповідь" annotation="Роз'яснено."><RegNumber regdate="2026-03-20">Вих-77</RegNumber>` +
		`<DocTransfer type="txt" description="a.txt" idnumber="501">YQ==</DocTransfer>` + refs.String() + `</Document>`
}

// TestAttackXML: the XML attacks of §3.4 on authority B's SEV 1207 messages. Entity expansion,
// external entities and DTDs, deep nesting, signature-wrapping-style duplicates (two
// Acknowledgements, two registration numbers, a repeated attribute), namespace tricks and broken
// documents are refused with 400 malformed_message, the hub never fetches anything they point to,
// and nothing is stored. The well-formed message after them is applied, with 200,000 unknown
// attributes ignored and a comment inside its registration number read through.
func TestAttackXML(t *testing.T) {
	t.Parallel()
	b := newAttackBundle(t)
	var fetched atomic.Int64
	lure := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetched.Add(1)
		_, _ = w.Write([]byte(`<!ENTITY x "pwned">`))
	}))
	t.Cleanup(lure.Close)
	own, other := b.caseB.delivery, b.caseA.delivery
	reg := sevRegistered(own, "Вх-1/26")
	withDecl := func(decl, inner string) string {
		return strings.Replace(sevMessage("xml-decl", inner), "?>\n", "?>\n"+decl+"\n", 1)
	}
	attrs := func(n int) string {
		var sb strings.Builder
		for i := range n {
			fmt.Fprintf(&sb, ` a%d=""`, i)
		}
		return sb.String()
	}
	tests := []struct {
		name   string
		body   string
		header http.Header
		status int
		code   schemas.Code
	}{
		{name: "billion laughs", body: withDecl(`<!DOCTYPE Header [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">`+
			`<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]>`,
			sevRegistered(own, "&lol2;"))},
		{name: "external entity (file)", body: withDecl(`<!DOCTYPE Header [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`, sevRegistered(own, "&xxe;"))},
		{name: "external entity (http)", body: withDecl(`<!DOCTYPE Header [<!ENTITY xxe SYSTEM "`+lure.URL+`/e">]>`, sevRegistered(own, "&xxe;"))},
		{name: "parameter entity", body: withDecl(`<!DOCTYPE Header [<!ENTITY % p SYSTEM "`+lure.URL+`/p"> %p;]>`, reg)},
		{name: "external DTD", body: withDecl(`<!DOCTYPE Header SYSTEM "`+lure.URL+`/d.dtd">`, reg)},
		{name: "DOCTYPE without entities", body: withDecl(`<!DOCTYPE Header>`, reg)},
		{name: "lower-case doctype", body: withDecl(`<!doctype Header>`, reg)},
		{name: "entity declared in a comment", body: sevMessage("xml-comment", `<!-- <!ENTITY x "y"> -->`+reg)},
		{name: "undeclared entity", body: sevMessage("xml-undeclared", sevRegistered(own, "&xxe;"))},
		{name: "20,000-deep nesting", body: sevMessage("xml-deep", strings.Repeat("<a>", 20000)+strings.Repeat("</a>", 20000)+reg)},
		{name: "XSW: two Acknowledgements, own first", body: sevMessage("xml-xsw-1", reg+sevRegistered(other, "Вх-2/26"))},
		{name: "XSW: two Acknowledgements, other's first", body: sevMessage("xml-xsw-2", sevRegistered(other, "Вх-2/26")+reg)},
		{name: "XSW: two registration numbers", body: sevMessage("xml-xsw-3", strings.Replace(reg, "</RegNumber>",
			`</RegNumber><RegNumber regdate="2026-03-03">Вх-2/26</RegNumber>`, 1))},
		{name: "XSW: repeated msg_id attribute", body: sevMessage("xml-xsw-4", strings.Replace(reg, `msg_id="`+own+`"`,
			`msg_id="`+own+`" msg_id="`+other+`"`, 1))},
		{name: "XSW: repeated Header msg_id", body: strings.Replace(sevMessage("xml-xsw-5", reg), `msg_id="xml-xsw-5"`,
			`msg_id="xml-xsw-5" msg_id="xml-xsw-6"`, 1)},
		{name: "two Header roots", body: sevMessage("xml-two-roots", reg) + sevMessage("xml-two-roots-2", reg)},
		{name: "Header in another namespace", body: strings.Replace(sevMessage("xml-ns", reg), "<Header ", `<Header xmlns="urn:evil" `, 1)},
		{name: "prefixed Header", body: strings.Replace(strings.Replace(sevMessage("xml-prefix", reg), "<Header ", `<x:Header xmlns:x="urn:evil" `, 1),
			"</Header>", "</x:Header>", 1)},
		{name: "colon-only element name", body: sevMessage("xml-colon", "<::Element/>"+reg)},
		{name: "HTML error page", body: "<html><body><h1>502 Bad Gateway</h1></body></html>"},
		{name: "truncated", body: sevMessage("xml-truncated", reg)[:200]},
		{name: "not XML", body: `{"format":"appealhub.message.v1"}`},
		{name: "empty", body: ""},
		{name: "XSW: an answer referring to two deliveries", body: strings.Replace(sevMessage("xml-xsw-7", sevAnswer(own, other)),
			`msg_type="0"`, `msg_type="3"`, 1)},
		{name: "XSW: an Acknowledgement and a Document", body: sevMessage("xml-xsw-8", reg+sevAnswer(other))},
		{name: "XSW: a signature with two SignData", body: strings.Replace(sevMessage("xml-xsw-9", sevAnswer(own)+
			`<Expansion><StaticExpansion><SignInfo docTransfer_idnumber="501"><SignData>MIIB</SignData><SignData>MIIC</SignData></SignInfo></StaticExpansion></Expansion>`),
			`msg_type="0"`, `msg_type="3"`, 1)},
		{name: "JSON media type", body: sevMessage("xml-json-type", reg), header: http.Header{"Content-Type": {"application/json"}}},
	}
	msgPath := "/v1/authorities/" + attackSEV + "/messages"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header
			if h == nil {
				h = http.Header{"Content-Type": {"application/xml"}}
			}
			b.run(t, attack{method: http.MethodPost, path: msgPath, token: b.authB, header: h, body: []byte(tt.body),
				status: cmpInt(tt.status, http.StatusBadRequest), code: cmpCode(tt.code, schemas.CodeMalformedMessage)})
		})
	}
	require.Zero(t, fetched.Load(), "the hub fetched what a message pointed to")

	// The control: a well-formed registration is applied, its 200,000 unknown attributes ignored
	// and its number read whole across a comment.
	good := sevMessage("xml-good", sevRegistered(own, "Вх-12<!-- - -->/345-26"))
	good = strings.Replace(good, "<RegNumber ", "<RegNumber"+attrs(200000)+" ", 1)
	b.run(t, attack{method: http.MethodPost, path: msgPath, token: b.authB, header: http.Header{"Content-Type": {"application/xml"}},
		body: []byte(good), status: 200, writes: true})
	require.Equal(t, "Вх-12/345-26", readCase(t, b.hub.URL, b.portalB, b.caseB.receipt.ID).Deliveries[0].RegistrationNumber)
}

func cmpInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func cmpCode(v, def schemas.Code) schemas.Code {
	if v == "" {
		return def
	}
	return v
}
