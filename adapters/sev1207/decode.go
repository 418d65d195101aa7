package sev1207

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"iter"
	"mime"
	"strings"
	"time"

	"github.com/beevik/etree"

	"appealhub/adapters"
	"appealhub/schemas"
)

// header is a read 1207 Header.
type header struct {
	root    *etree.Element
	msgType string
	msgID   string
	at      *time.Time
}

// readHeader reads body and checks that it is a 1207 v1.5 message with a message type, an id and
// a time.
func (a *Adapter) readHeader(body []byte) (*header, error) {
	root, err := a.read(body)
	if err != nil {
		return nil, err
	}
	if root.Space != "" || root.Tag != "Header" {
		return nil, fmt.Errorf("%w: root element %q, want Header", ErrNotSEV1207, clip(root.FullTag()))
	}
	if ns, _ := attr(root, "xmlns"); ns != "" {
		return nil, fmt.Errorf("%w: Header in namespace %q", ErrNotSEV1207, clip(ns))
	}
	if v, ok := attr(root, "standart"); !ok || v != Standard {
		return nil, fmt.Errorf("%w: standart %q, want %q", ErrNotSEV1207, clip(v), Standard)
	}
	if v, ok := attr(root, "version"); !ok || v != Version {
		return nil, fmt.Errorf("%w: version %q, want %q", ErrNotSEV1207, clip(v), Version)
	}
	h := &header{root: root}
	var ok bool
	if h.msgType, ok = attr(root, "msg_type"); !ok || len(h.msgType) != 1 || h.msgType[0] < '0' || h.msgType[0] > '4' {
		return nil, fmt.Errorf("%w: Header@msg_type %q: want 0 to 4", ErrMalformed, clip(h.msgType))
	}
	if h.msgID, ok = attr(root, "msg_id"); !ok || h.msgID == "" {
		return nil, fmt.Errorf("%w: Header@msg_id missing", ErrMalformed)
	}
	if v, ok := attr(root, "time"); ok {
		at, err := a.parseDateTime(v)
		if err != nil {
			return nil, fmt.Errorf("%w: Header@time: %w", ErrMalformed, err)
		}
		h.at = &at
	}
	return h, nil
}

// DecodeMessage decodes what an authority's system sends the hub: one 1207 v1.5 message, giving
// one authority message.
//
//   - A notice (msg_type 0) carrying Acknowledgement: ack_type 1 is MsgDelivered, 2 MsgAccepted, 3
//     MsgRegistered (RegNumber and its regdate are required), 4 MsgRefused (the non-empty
//     AckResult errortexts, joined with "; ", are the RefusalText; when one states the wording
//     of a ground of resolution No. 55, schemas.RefusalText, alone or followed by ": ", that
//     ground's code is the RefusalCode, else it is empty). Of is Acknowledgement@msg_id, the
//     hub's message (delivery) id.
//   - A document (msg_type 1 to 4) that refers to a document the hub sent, by
//     Addressee/Referred[@retype="д"]@idnumber: MsgAnswered, with Of that idnumber, Text the
//     document's annotation (else its title), and every DocTransfer as a document with the
//     SignInfo signatures that name it (each signature's Of is the document's file name).
//
// A message that leaves the hub to choose is refused with ErrMalformed: an attribute twice in one
// element; two Acknowledgement or Document elements, or both; two RegNumber or DocTransfer in an
// Acknowledgement; two SignData in a SignInfo; references to two different documents.
//
// MessageID is the message's own Header@msg_id and At its Header@time. Every error wraps one of
// the package's sentinel errors and is marked adapters.Permanent: the same body can never decode.
// It never panics and is safe for concurrent use.
func (a *Adapter) DecodeMessage(body []byte) ([]schemas.AuthorityMessage, error) {
	m, err := a.decodeMessage(body)
	if err != nil {
		return nil, adapters.Permanent(fmt.Errorf("decode sev1207 message: %w", err))
	}
	return []schemas.AuthorityMessage{m}, nil
}

// DecodeMessages is DecodeMessage for a body of the given media type, which must be empty or an
// XML type (application/xml, text/xml, or a +xml type). It makes Adapter an
// adapters.MessageDecoder.
func (a *Adapter) DecodeMessages(mediaType string, body []byte) ([]schemas.AuthorityMessage, error) {
	if err := checkMediaType(mediaType); err != nil {
		return nil, adapters.Permanent(fmt.Errorf("decode sev1207 message: %w", err))
	}
	return a.DecodeMessage(body)
}

func (a *Adapter) decodeMessage(body []byte) (schemas.AuthorityMessage, error) {
	h, err := a.readHeader(body)
	if err != nil {
		return schemas.AuthorityMessage{}, err
	}
	if err := single(h.root, "Acknowledgement", "Document"); err != nil {
		return schemas.AuthorityMessage{}, err
	}
	ack := child(h.root, "Acknowledgement")
	doc := child(h.root, "Document")
	switch {
	case ack != nil && doc != nil:
		return schemas.AuthorityMessage{}, fmt.Errorf("%w: both Acknowledgement and Document: a message is a notice or a document", ErrMalformed)
	case h.msgType == msgTypeNotice && ack == nil:
		return schemas.AuthorityMessage{}, fmt.Errorf("%w: a notice (msg_type 0) without Acknowledgement", ErrMalformed)
	case h.msgType == msgTypeNotice:
		return a.decodeAck(h, ack)
	case doc == nil:
		return schemas.AuthorityMessage{}, fmt.Errorf("%w: msg_type %s without Document", ErrMalformed, h.msgType)
	default:
		return a.decodeAnswer(h, doc)
	}
}

func (a *Adapter) decodeAck(h *header, ack *etree.Element) (schemas.AuthorityMessage, error) {
	m := schemas.AuthorityMessage{MessageID: h.msgID, At: h.at}
	if err := single(ack, "RegNumber", "DocTransfer"); err != nil {
		return schemas.AuthorityMessage{}, err
	}
	var ok bool
	if m.Of, ok = attr(ack, "msg_id"); !ok || m.Of == "" {
		return schemas.AuthorityMessage{}, fmt.Errorf("%w: Acknowledgement@msg_id missing", ErrMalformed)
	}
	ackType, _ := attr(ack, "ack_type")
	switch ackType {
	case "1":
		m.Type = schemas.MsgDelivered
	case "2":
		m.Type = schemas.MsgAccepted
	case "3":
		m.Type = schemas.MsgRegistered
		reg := child(ack, "RegNumber")
		if reg == nil {
			return schemas.AuthorityMessage{}, fmt.Errorf("%w: registration notice (ack_type 3) without RegNumber", ErrMalformed)
		}
		number, date, err := a.regNumber(reg)
		if err != nil {
			return schemas.AuthorityMessage{}, fmt.Errorf("%w: Acknowledgement/RegNumber: %w", ErrMalformed, err)
		}
		m.RegistrationNumber, m.RegistrationDate = number, &date
	case "4":
		m.Type = schemas.MsgRefused
		var texts []string
		for r := range children(ack, "AckResult") {
			if t := strings.TrimSpace(value(r, "errortext")); t != "" {
				texts = append(texts, t)
			}
			if m.RefusalCode == "" {
				m.RefusalCode = refusalCodeOf(strings.TrimSpace(value(r, "errortext")))
			}
		}
		m.RefusalText = strings.Join(texts, "; ")
	case "":
		return schemas.AuthorityMessage{}, fmt.Errorf("%w: Acknowledgement@ack_type missing", ErrMalformed)
	default:
		return schemas.AuthorityMessage{}, fmt.Errorf("%w: Acknowledgement@ack_type %q (the hub applies 1 to 4)", ErrUnsupported, clip(ackType))
	}
	if dt := child(ack, "DocTransfer"); dt != nil {
		d, err := docTransfer(dt)
		if err != nil {
			return schemas.AuthorityMessage{}, err
		}
		m.Documents = []schemas.AuthorityDocument{d}
	}
	return m, nil
}

func (a *Adapter) decodeAnswer(h *header, doc *etree.Element) (schemas.AuthorityMessage, error) {
	m := schemas.AuthorityMessage{MessageID: h.msgID, At: h.at, Type: schemas.MsgAnswered}
	var ambiguous bool
	if m.Of, ambiguous = referredID(doc); ambiguous {
		return schemas.AuthorityMessage{}, fmt.Errorf("%w: a document that refers to more than one document of the hub's", ErrMalformed)
	}
	if m.Of == "" {
		return schemas.AuthorityMessage{}, fmt.Errorf("%w: a document that refers to no document of the hub's (no Addressee/Referred@idnumber with retype д)", ErrUnsupported)
	}
	m.Text = value(doc, "annotation")
	if strings.TrimSpace(m.Text) == "" {
		m.Text = value(doc, "title")
	}
	index := make(map[string]int)
	for dt := range children(doc, "DocTransfer") {
		d, err := docTransfer(dt)
		if err != nil {
			return schemas.AuthorityMessage{}, err
		}
		id, _ := attr(dt, "idnumber")
		if _, dup := index[id]; !dup {
			index[id] = len(m.Documents)
		}
		m.Documents = append(m.Documents, d)
	}
	for _, si := range signInfos(h.root) {
		id, _ := attr(si, "docTransfer_idnumber")
		i, ok := index[id]
		if !ok {
			return schemas.AuthorityMessage{}, fmt.Errorf("%w: SignInfo names DocTransfer %q, which the message does not hold", ErrMalformed, clip(id))
		}
		value, err := signData(si)
		if err != nil {
			return schemas.AuthorityMessage{}, err
		}
		m.Documents[i].Signatures = append(m.Documents[i].Signatures, schemas.Signature{Of: m.Documents[i].FileName, Format: formatCAdES, Value: value})
	}
	return m, nil
}

// referredID returns the idnumber of the document reference (retype д) among the document's
// addressees, or ""; ambiguous reports references to two different documents, of which the hub
// cannot pick one.
func referredID(doc *etree.Element) (id string, ambiguous bool) {
	for ad := range children(doc, "Addressee") {
		for ref := range children(ad, "Referred") {
			if v, _ := attr(ref, "retype"); v != retypeDocument {
				continue
			}
			if v, _ := attr(ref, "idnumber"); v != "" {
				if id != "" && v != id {
					return id, true
				}
				id = v
			}
		}
	}
	return id, false
}

// DecodeReply reads an authority system's synchronous answer to a push. An empty body (nothing
// but white space, after an optional byte-order mark) is Reply{}: sent, not confirmed. Otherwise
// mediaType must be empty or an XML type and the body a 1207 v1.5 notice: ack_type 1, 2, 3 or 4
// make Delivered true (each proves the document reached the system; a refusal, ack_type 4, is
// applied from the notice the system sends to the hub, DecodeMessage), and ack_type 3 also gives
// RegistrationNumber and RegisteredAt: the notice's time (Header@time) when it falls on the
// registration date (regdate, in Config.Location), else the start of that date. Errors wrap the sentinel errors and are not permanent: the
// push is retried under the same msg_id, which the system recognises.
func (a *Adapter) DecodeReply(mediaType string, body []byte) (adapters.Reply, error) {
	rep, err := a.decodeReply(mediaType, body)
	if err != nil {
		return adapters.Reply{}, fmt.Errorf("decode sev1207 reply: %w", err)
	}
	return rep, nil
}

func (a *Adapter) decodeReply(mediaType string, body []byte) (adapters.Reply, error) {
	if len(bytes.TrimSpace(bytes.TrimPrefix(body, utf8BOM))) == 0 {
		return adapters.Reply{}, nil
	}
	if err := checkMediaType(mediaType); err != nil {
		return adapters.Reply{}, err
	}
	m, err := a.decodeMessage(body)
	if err != nil {
		return adapters.Reply{}, err
	}
	switch m.Type {
	case schemas.MsgDelivered, schemas.MsgAccepted, schemas.MsgRefused:
		return adapters.Reply{Delivered: true}, nil
	case schemas.MsgRegistered:
		// regdate is a calendar date; a registration notice is made when the system registers,
		// so its time, when on that date, says when more precisely.
		at := m.RegistrationDate
		if m.At != nil && m.At.In(a.cfg.Location).Format(dateLayout) == m.RegistrationDate.Format(dateLayout) {
			at = m.At
		}
		return adapters.Reply{Delivered: true, RegistrationNumber: m.RegistrationNumber, RegisteredAt: at}, nil
	default:
		return adapters.Reply{}, fmt.Errorf("%w: a reply that is not an acknowledgement", ErrUnsupported)
	}
}

// checkMediaType accepts an empty media type or an XML one.
func checkMediaType(mediaType string) error {
	if mediaType == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(mediaType)
	if err != nil {
		return fmt.Errorf("%w: media type: %w", ErrNotSEV1207, err)
	}
	if mt != "application/xml" && mt != "text/xml" && !strings.HasSuffix(mt, "+xml") {
		return fmt.Errorf("%w: media type %q is not XML", ErrNotSEV1207, clip(mt))
	}
	return nil
}

// docTransfer decodes one DocTransfer: description is the file name, type (else the name's
// extension) gives the media type.
func docTransfer(dt *etree.Element) (schemas.AuthorityDocument, error) {
	content, err := decodeBase64(dt.Text())
	if err != nil {
		return schemas.AuthorityDocument{}, fmt.Errorf("%w: DocTransfer content: %w", ErrMalformed, err)
	}
	name := value(dt, "description")
	return schemas.AuthorityDocument{
		FileName:  name,
		MediaType: mediaTypeOf(value(dt, "type"), name),
		Content:   content,
	}, nil
}

// signInfos returns Expansion/StaticExpansion/SignInfo.
func signInfos(root *etree.Element) []*etree.Element {
	var out []*etree.Element
	for exp := range children(root, "Expansion") {
		for st := range children(exp, "StaticExpansion") {
			for si := range children(st, "SignInfo") {
				out = append(out, si)
			}
		}
	}
	return out
}

func signData(si *etree.Element) ([]byte, error) {
	if err := single(si, "SignData"); err != nil {
		return nil, err
	}
	sd := child(si, "SignData")
	if sd == nil {
		return nil, fmt.Errorf("%w: SignInfo without SignData", ErrMalformed)
	}
	v, err := decodeBase64(sd.Text())
	if err != nil {
		return nil, fmt.Errorf("%w: SignData: %w", ErrMalformed, err)
	}
	if len(v) == 0 {
		return nil, fmt.Errorf("%w: empty SignData", ErrMalformed)
	}
	return v, nil
}

// regNumber reads a RegNumber: its text (trimmed, required) and regdate.
func (a *Adapter) regNumber(reg *etree.Element) (string, time.Time, error) {
	number := strings.TrimSpace(reg.Text())
	if number == "" {
		return "", time.Time{}, errors.New("empty registration number")
	}
	v, ok := attr(reg, "regdate")
	if !ok {
		return "", time.Time{}, errors.New("regdate missing")
	}
	date, err := a.parseDate(v)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("regdate: %w", err)
	}
	return number, date, nil
}

// parseDateTime reads an xs:dateTime; one without a zone is in Config.Location.
func (a *Adapter) parseDateTime(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", v, a.cfg.Location); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not an xs:dateTime", clip(v))
}

// parseDate reads an xs:date as midnight of that day, in its zone when it has one, else in
// Config.Location.
func (a *Adapter) parseDate(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if t, err := time.ParseInLocation(dateLayout, v, a.cfg.Location); err == nil {
		return t, nil
	}
	if t, err := time.Parse(dateLayout+"Z07:00", v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not an xs:date", clip(v))
}

// decodeBase64 decodes xs:base64Binary: standard alphabet, white space anywhere ignored.
func decodeBase64(s string) ([]byte, error) {
	if !strings.ContainsAny(s, " \t\n\r") {
		return base64.StdEncoding.DecodeString(s)
	}
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
	return base64.StdEncoding.DecodeString(s)
}

// single refuses an element e holds more than one of, of each tag the hub reads as one: with two,
// which one counts would be up to the reader (the signature-wrapping pattern).
func single(e *etree.Element, tags ...string) error {
	for _, tag := range tags {
		n := 0
		for range children(e, tag) {
			if n++; n > 1 {
				return fmt.Errorf("%w: more than one %s in %s", ErrMalformed, tag, e.Tag)
			}
		}
	}
	return nil
}

// child returns e's first child element named tag (no namespace prefix), or nil.
func child(e *etree.Element, tag string) *etree.Element {
	for c := range children(e, tag) {
		return c
	}
	return nil
}

// children yields e's child elements named tag (no namespace prefix).
func children(e *etree.Element, tag string) iter.Seq[*etree.Element] {
	return func(yield func(*etree.Element) bool) {
		for c := range e.ChildElementsSeq() {
			if c.Space == "" && c.Tag == tag && !yield(c) {
				return
			}
		}
	}
}

// value returns the unprefixed attribute key of e as written, or "".
func value(e *etree.Element, key string) string {
	for _, at := range e.Attr {
		if at.Space == "" && at.Key == key {
			return at.Value
		}
	}
	return ""
}

// attr returns the unprefixed attribute key of e, trimmed of white space (every 1207 attribute
// the hub branches on is a token), and whether it is there.
func attr(e *etree.Element, key string) (string, bool) {
	for _, at := range e.Attr {
		if at.Space == "" && at.Key == key {
			return strings.TrimSpace(at.Value), true
		}
	}
	return "", false
}

// clip shortens a value quoted in an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
