package sev1207

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"appealhub/adapters"
	"appealhub/schemas"
)

// Peer is the authority's side of 1207 (adapters.Peer): how a document system that speaks 1207
// reads what the hub sends and answers it. The sandbox and the conformance kit use it; the hub
// itself never does. It is pure and safe for concurrent use.
type Peer struct {
	a    *Adapter
	code string
	r    Recipient
}

var _ adapters.Peer = (*Peer)(nil)

// Peer returns the peer of the authority with the given code: messages it writes come from that
// authority (its name and system from Config.RecipientFunc, as Encode addresses it) to the hub of
// a's Config, and it reads with a's limits.
func (a *Adapter) Peer(code string) *Peer {
	return &Peer{a: a, code: code, r: a.recipient(code)}
}

// DecodeDelivery reads a document the hub wrote (DecodeDocument); mediaType must be empty or XML.
func (p *Peer) DecodeDelivery(mediaType string, body []byte) (adapters.Received, error) {
	if err := checkMediaType(mediaType); err != nil {
		return adapters.Received{}, adapters.Permanent(fmt.Errorf("decode sev1207 document: %w", err))
	}
	doc, err := p.a.DecodeDocument(body)
	if err != nil {
		return adapters.Received{}, err
	}
	return adapters.Received{DeliveryID: doc.DeliveryID, Authority: doc.Authority,
		TrackingNumber: doc.TrackingNumber, Submission: doc.Submission}, nil
}

// EncodeReply writes the synchronous answer to the push of delivery of: an empty body for a reply
// that is not Delivered, else a notice acknowledging msg_id of with ack_type 1 (delivered) or, with
// a RegistrationNumber, 3 (registered), dated by RegisteredAt, else by the Unix epoch (a Peer has
// no clock); DecodeReply does not read the date.
func (p *Peer) EncodeReply(of string, r adapters.Reply) (string, []byte) {
	if !r.Delivered {
		return MediaType, nil
	}
	if of == "" {
		of = r.Reference
	}
	if of == "" {
		of = "unknown"
	}
	// A Peer has no clock (it is pure): a reply is dated by its registration, else by the epoch.
	at := time.Unix(0, 0).UTC()
	m := schemas.AuthorityMessage{MessageID: "reply-" + of, Of: of, Type: schemas.MsgDelivered, At: &at}
	if r.RegistrationNumber != "" && r.RegisteredAt != nil {
		m.Type, m.RegistrationNumber, m.RegistrationDate, m.At = schemas.MsgRegistered, r.RegistrationNumber, r.RegisteredAt, r.RegisteredAt
	}
	body, err := p.encode(m)
	if err != nil { // only a value XML cannot carry: answer as a system that cannot say more
		m = schemas.AuthorityMessage{MessageID: "reply", Of: "unknown", Type: schemas.MsgDelivered, At: &at}
		body, _ = p.encode(m)
	}
	return MediaType, body
}

// EncodeMessages writes one authority message as the 1207 message a system sends: a notice
// (msg_type 0) for delivered, accepted, registered and refused, a document (msg_type 1) referring
// to the hub's msg_id for answered. 1207 carries one message per body and has no notice for the
// other types: those, and more than one message, are an error wrapping ErrUnsupported. A message
// without At is dated by its RegistrationDate; one with neither is an error.
func (p *Peer) EncodeMessages(msgs []schemas.AuthorityMessage) (string, []byte, error) {
	if len(msgs) != 1 {
		return "", nil, fmt.Errorf("encode sev1207 message: %w: %d messages, 1207 carries one per body", ErrUnsupported, len(msgs))
	}
	body, err := p.encode(msgs[0])
	if err != nil {
		return "", nil, fmt.Errorf("encode sev1207 message %q: %w", msgs[0].MessageID, err)
	}
	return MediaType, body, nil
}

func (p *Peer) encode(m schemas.AuthorityMessage) ([]byte, error) {
	at := m.At
	if at == nil {
		at = m.RegistrationDate
	}
	switch {
	case m.MessageID == "":
		return nil, errors.New("empty message id")
	case m.Of == "":
		return nil, errors.New("empty of")
	case at == nil:
		return nil, errors.New("no time (at)")
	case at.UTC().Year() < 1 || at.UTC().Year() > 9999:
		return nil, errors.New("time outside xs:dateTime as written")
	}

	var b builder
	x := etree.NewDocument()
	x.WriteSettings = etree.WriteSettings{CanonicalText: true, CanonicalAttrVal: true}
	x.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	h := x.CreateElement("Header")
	msgType := msgTypeNotice
	if m.Type == schemas.MsgAnswered {
		msgType = msgTypeDocument
	}
	b.attrs(h,
		"standart", Standard, "version", Version, "charset", "UTF-8",
		"time", at.UTC().Format(dateTimeLayout),
		"msg_type", msgType, "msg_id", m.MessageID, "msg_acknow", "0",
		"from_org_id", p.code, "from_organization", p.r.Name, "from_sys_id", p.r.SystemID, "from_system", p.r.System,
		"to_org_id", p.a.cfg.HubCode, "to_organization", p.a.cfg.HubName, "to_sys_id", p.a.cfg.HubSystemID, "to_system", p.a.cfg.HubSystem,
	)
	switch m.Type {
	case schemas.MsgDelivered, schemas.MsgAccepted, schemas.MsgRegistered, schemas.MsgRefused:
		if err := p.writeAck(&b, h, m); err != nil {
			return nil, err
		}
	case schemas.MsgAnswered:
		if err := p.writeAnswer(&b, h, m, *at); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: type %q has no 1207 form", ErrUnsupported, m.Type)
	}
	if b.err != nil {
		return nil, b.err
	}
	x.Indent(2)
	var buf bytes.Buffer
	if _, err := x.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("write xml: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// ackTypes is the ack_type of each notice.
var ackTypes = map[schemas.AuthorityMessageType]string{
	schemas.MsgDelivered: "1", schemas.MsgAccepted: "2", schemas.MsgRegistered: "3", schemas.MsgRefused: "4",
}

func (p *Peer) writeAck(b *builder, h *etree.Element, m schemas.AuthorityMessage) error {
	ack := h.CreateElement("Acknowledgement")
	b.attrs(ack, "msg_id", m.Of, "ack_type", ackTypes[m.Type])
	text := ""
	switch m.Type {
	case schemas.MsgRegistered:
		if m.RegistrationNumber == "" || m.RegistrationDate == nil {
			return errors.New("registered without registration number and date")
		}
		reg := ack.CreateElement("RegNumber")
		b.attrs(reg, "regdate", m.RegistrationDate.In(p.a.cfg.Location).Format(dateLayout))
		b.text(reg, m.RegistrationNumber)
	case schemas.MsgRefused:
		text = refusalWording(m.RefusalCode, m.RefusalText)
		if text == "" {
			return errors.New("refused without a code or a text")
		}
	}
	b.attrs(ack.CreateElement("AckResult"), "errorcode", "0", "errortext", text)
	return nil
}

func (p *Peer) writeAnswer(b *builder, h *etree.Element, m schemas.AuthorityMessage, at time.Time) error {
	date := at.In(p.a.cfg.Location).Format(dateLayout)
	d := h.CreateElement("Document")
	b.attrs(d, "idnumber", m.MessageID, "type", docTypeAppeal, "kind", "Відповідь на звернення",
		"title", "Відповідь на звернення", "annotation", m.Text, "purpose_type", "0")
	reg := d.CreateElement("RegNumber")
	b.attrs(reg, "regdate", date)
	b.text(reg, m.MessageID)
	b.attrs(d.CreateElement("Confident"), "flag", "0")
	ids := make([]string, len(m.Documents))
	for i, doc := range m.Documents {
		ids[i] = strconv.Itoa(i + 1)
		dt := d.CreateElement("DocTransfer")
		b.attrs(dt, "type", fileType(doc.FileName, doc.MediaType), "description", doc.FileName, "idnumber", ids[i])
		dt.SetText(base64.StdEncoding.EncodeToString(doc.Content))
	}
	author := d.CreateElement("Author")
	if !orgCode.MatchString(p.code) {
		return errors.New("authority code: must be 8 to 10 digits (EDRPOU)")
	}
	b.attrs(author.CreateElement("Organization"), "fullname", p.r.Name, "ogrn", p.code)
	ad := d.CreateElement("Addressee")
	b.attrs(ad, "type", addresseeMain)
	b.attrs(ad.CreateElement("Organization"), "fullname", p.a.cfg.HubName, "ogrn", p.a.cfg.HubCode)
	ref := ad.CreateElement("Referred")
	b.attrs(ref, "idnumber", m.Of, "retype", retypeDocument)
	rr := ref.CreateElement("RegNumber")
	b.attrs(rr, "regdate", date)
	b.text(rr, m.Of)

	exp := h.CreateElement("Expansion")
	b.attrs(exp, "organization", p.code, "exp_ver", "1")
	static := exp.CreateElement("StaticExpansion")
	for i, doc := range m.Documents {
		for _, sig := range doc.Signatures {
			si := static.CreateElement("SignInfo")
			b.attrs(si, "docTransfer_idnumber", ids[i])
			si.CreateElement("SignData").SetText(base64.StdEncoding.EncodeToString(sig.Value))
		}
	}
	return nil
}

// refusalWording is the errortext of a refusal: the resolution's wording of the code, followed by
// the system's own text when that says more.
func refusalWording(code, text string) string {
	w := schemas.RefusalText(code)
	switch {
	case w == "":
		return text
	case text == "" || text == w:
		return w
	default:
		return w + ": " + text
	}
}

// refusalCodeOf returns the code of the resolution No. 55 ground whose wording an errortext states
// (alone or followed by ": "), or "".
func refusalCodeOf(text string) string {
	for _, code := range schemas.RefusalCodes() {
		w := schemas.RefusalText(code)
		if w != "" && (strings.EqualFold(text, w) || strings.HasPrefix(strings.ToLower(text), strings.ToLower(w)+":")) {
			return code
		}
	}
	return ""
}
