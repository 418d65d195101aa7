package sev1207

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/beevik/etree"

	"appealhub/adapters"
	"appealhub/schemas"
)

// The fixed values the hub writes. See doc.go for why.
const (
	msgTypeNotice   = "0" // Acknowledgement
	msgTypeDocument = "1" // a document
	msgAcknowAlways = "2" // the sender asks for every notice
	docTypeAppeal   = "0"
	purposeExecute  = "3" // "на виконання": the authority must act on it (consider and answer)
	addresseeMain   = "0"
	econtactEmail   = "п"
	econtactPhone   = "м"
	retypeDocument  = "д"

	// textID is the DocTransfer idnumber of the appeal's text; attachments are file-1, file-2, ….
	textID     = "text"
	filePrefix = "file-"

	// dateTimeLayout is how the hub writes xs:dateTime: UTC, whole seconds, as the samples do.
	dateTimeLayout = "2006-01-02T15:04:05Z"
	dateLayout     = "2006-01-02"

	formatCAdES = "cades-detached"
)

// kindLabels are the Document@kind the hub writes: the names of the law on citizens' appeals
// (393/96-ВР, art. 3) and of the law on access to public information.
var kindLabels = map[schemas.AppealKind]string{
	schemas.AppealProposal:    "Пропозиція (зауваження)",
	schemas.AppealApplication: "Заява (клопотання)",
	schemas.AppealComplaint:   "Скарга",
}

const infoRequestLabel = "Запит на публічну інформацію"

// Encode renders doc as a 1207 v1.5 document message (msg_type 1) from the hub to doc.Authority;
// see the package documentation for the mapping. The same doc always gives the same bytes. Every
// error is marked adapters.Permanent and names the field at fault, never its value.
func (a *Adapter) Encode(doc adapters.Document) ([]byte, error) {
	out, err := a.encode(doc)
	if err != nil {
		return nil, adapters.Permanent(fmt.Errorf("encode sev1207 delivery %q: %w", doc.DeliveryID, err))
	}
	return out, nil
}

func (a *Adapter) encode(doc adapters.Document) ([]byte, error) {
	if a.cfgErr != nil {
		return nil, fmt.Errorf("adapter configuration: %w", a.cfgErr)
	}
	if err := checkDocument(doc); err != nil {
		return nil, err
	}
	sub := doc.Submission
	rcpt := a.recipient(doc.Authority)
	fileIDs, err := fileIDsOf(sub)
	if err != nil {
		return nil, err
	}

	var b builder
	x := etree.NewDocument()
	x.WriteSettings = etree.WriteSettings{CanonicalText: true, CanonicalAttrVal: true}
	x.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)

	h := x.CreateElement("Header")
	b.attrs(h,
		"standart", Standard,
		"version", Version,
		"charset", "UTF-8",
		"time", doc.ReceivedAt.UTC().Format(dateTimeLayout),
		"msg_type", msgTypeDocument,
		"msg_id", doc.DeliveryID,
		"msg_acknow", msgAcknowAlways,
		"from_org_id", a.cfg.HubCode,
		"from_organization", a.cfg.HubName,
		"from_sys_id", a.cfg.HubSystemID,
		"from_system", a.cfg.HubSystem,
		"to_org_id", doc.Authority,
		"to_organization", rcpt.Name,
		"to_sys_id", rcpt.SystemID,
		"to_system", rcpt.System,
	)

	d := h.CreateElement("Document")
	urgent := "0"
	if sub.Urgent {
		urgent = "1"
	}
	collection := "0"
	if sub.Collective {
		collection = "1"
	}
	b.attrs(d,
		"idnumber", doc.DeliveryID,
		"type", docTypeAppeal,
		"kind", kindLabel(sub),
		"title", sub.Subject,
		"collection", collection,
		"purpose_type", purposeExecute,
		"urgent", urgent,
	)
	reg := d.CreateElement("RegNumber")
	b.attrs(reg, "regdate", doc.ReceivedAt.In(a.cfg.Location).Format(dateLayout))
	b.text(reg, doc.TrackingNumber)
	b.attrs(d.CreateElement("Confident"), "flag", "0")

	// The text first, then every attachment, in order.
	t := d.CreateElement("DocTransfer")
	b.attrs(t, "type", "txt", "char_set", "UTF-8", "description", textFileName(sub), "idnumber", textID)
	t.SetText(base64.StdEncoding.EncodeToString([]byte(sub.Text)))
	for i, att := range sub.Attachments {
		f := d.CreateElement("DocTransfer")
		b.attrs(f, "type", fileType(att.FileName, att.MediaType), "description", att.FileName, "idnumber", fileIDs[i])
		f.SetText(base64.StdEncoding.EncodeToString(att.Content))
	}

	author := d.CreateElement("Author")
	writePerson(&b, author.CreateElement("PrivatePerson"), sub.Applicant)

	addressee := d.CreateElement("Addressee")
	b.attrs(addressee, "type", addresseeMain)
	b.attrs(addressee.CreateElement("Organization"), "fullname", rcpt.Name, "ogrn", doc.Authority)

	exp := h.CreateElement("Expansion")
	b.attrs(exp, "organization", ExpansionOrganization, "exp_ver", ExpansionVersion)
	static := exp.CreateElement("StaticExpansion")
	var others []schemas.Signature
	for _, sig := range sub.Signatures {
		if sig.Format != formatCAdES {
			others = append(others, sig)
			continue
		}
		si := static.CreateElement("SignInfo")
		b.attrs(si, "docTransfer_idnumber", signedID(sig.Of, sub, fileIDs))
		si.CreateElement("SignData").SetText(base64.StdEncoding.EncodeToString(sig.Value))
	}
	writeAppeal(&b, exp.CreateElement("Appeal"), doc, fileIDs, others)

	if b.err != nil {
		return nil, b.err
	}
	x.Indent(2)
	var buf bytes.Buffer
	if _, err := x.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("write xml: %w", err)
	}
	buf.WriteByte('\n')
	if int64(buf.Len()) > a.cfg.MaxMessageBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, buf.Len(), a.cfg.MaxMessageBytes)
	}
	return buf.Bytes(), nil
}

// writePerson writes the citizen as a 1207 PrivatePerson: Name, Rank (the privilege category),
// Address, Econtact (e-mail, phone).
func writePerson(b *builder, p *etree.Element, ap schemas.Applicant) {
	name := p.CreateElement("Name")
	b.attrs(name, "secname", ap.Surname, "firstname", ap.Name)
	if ap.Patronymic != "" {
		b.attrs(name, "fathersname", ap.Patronymic)
	}
	b.text(name, joinNonEmpty(ap.Surname, ap.Name, ap.Patronymic))
	if ap.Category != "" {
		b.attrs(p.CreateElement("Rank"), "privilege", ap.Category)
	}
	if ap.Address != "" {
		b.text(p.CreateElement("Address"), ap.Address)
	}
	if ap.Email != "" {
		e := p.CreateElement("Econtact")
		b.attrs(e, "type", econtactEmail)
		b.text(e, ap.Email)
	}
	if ap.Phone != "" {
		e := p.CreateElement("Econtact")
		b.attrs(e, "type", econtactPhone)
		b.text(e, ap.Phone)
	}
}

// writeAppeal writes the hub's own Expansion element: what 1207 has no place for.
func writeAppeal(b *builder, e *etree.Element, doc adapters.Document, fileIDs []string, others []schemas.Signature) {
	sub := doc.Submission
	b.attrs(e,
		"appeal_id", doc.AppealID,
		"attempt", strconv.Itoa(doc.Attempt),
		"received_at", doc.ReceivedAt.UTC().Format(time.RFC3339Nano),
		"case_kind", string(sub.CaseKind),
	)
	optional := []string{
		"appeal_kind", string(sub.AppealKind),
		"topic", sub.Topic,
		"territory", sub.Territory,
		"repeat_of", sub.RepeatOf,
		"complaint_against", sub.ComplaintAgainst,
		"portal_submission_id", sub.PortalSubmissionID,
	}
	for i := 0; i < len(optional); i += 2 {
		if optional[i+1] != "" {
			b.attrs(e, optional[i], optional[i+1])
		}
	}
	if sub.Collective {
		b.attrs(e, "collective", "true")
	}
	if sub.CoSigners != 0 {
		b.attrs(e, "co_signers", strconv.Itoa(sub.CoSigners))
	}
	if sub.SubmittedAt != nil {
		b.attrs(e, "submitted_at", sub.SubmittedAt.Format(time.RFC3339Nano))
	}
	if sub.UrgencyReason != "" {
		b.text(e.CreateElement("UrgencyReason"), sub.UrgencyReason)
	}
	for _, code := range sub.Addressees {
		b.text(e.CreateElement("Addressee"), code)
	}
	for _, code := range sub.TopicCodes {
		b.text(e.CreateElement("TopicCode"), code)
	}
	for i, att := range sub.Attachments {
		f := e.CreateElement("File")
		b.attrs(f, "idnumber", fileIDs[i])
		if att.ID != "" {
			b.attrs(f, "id", att.ID)
		}
		b.attrs(f, "media_type", att.MediaType)
		if att.Size != 0 {
			b.attrs(f, "size", strconv.FormatInt(att.Size, 10))
		}
		if att.SHA256 != "" {
			b.attrs(f, "sha256", att.SHA256)
		}
	}
	for _, sig := range others {
		s := e.CreateElement("Signature")
		b.attrs(s, "of", sig.Of, "format", sig.Format)
		s.SetText(base64.StdEncoding.EncodeToString(sig.Value))
	}
}

// checkDocument refuses what can never become a 1207 message.
func checkDocument(doc adapters.Document) error {
	sub := doc.Submission
	switch {
	case doc.DeliveryID == "":
		return errors.New("empty delivery id")
	case doc.TrackingNumber == "":
		return errors.New("empty tracking number")
	case !orgCode.MatchString(doc.Authority):
		return errors.New("authority: must be 8 to 10 digits (EDRPOU)")
	case doc.Attempt < 1:
		return fmt.Errorf("attempt %d: must be >= 1", doc.Attempt)
	case doc.ReceivedAt.IsZero():
		return errors.New("zero received_at")
	case doc.ReceivedAt.UTC().Year() < 1 || doc.ReceivedAt.UTC().Year() > 9999:
		return fmt.Errorf("received_at year %d: outside xs:dateTime as written", doc.ReceivedAt.UTC().Year())
	case sub.CaseKind != schemas.CaseAppeal && sub.CaseKind != schemas.CaseInfoRequest:
		return errors.New("submission: missing or unknown case_kind")
	case sub.CaseKind == schemas.CaseAppeal && kindLabels[sub.AppealKind] == "":
		return errors.New("submission: missing or unknown appeal_kind")
	case sub.Applicant.Surname == "" || sub.Applicant.Name == "":
		return errors.New("submission: applicant surname and name are required")
	case sub.Text == "":
		return errors.New("submission: empty text")
	case !utf8.ValidString(sub.Text):
		return errors.New("submission: text is not valid UTF-8")
	case sub.SubmittedAt != nil && (sub.SubmittedAt.Year() < 0 || sub.SubmittedAt.Year() > 9999):
		return errors.New("submission: submitted_at outside RFC 3339")
	}
	for i, att := range sub.Attachments {
		if att.FileName == "" || att.MediaType == "" {
			return fmt.Errorf("submission: attachment %d: file name and media type are required", i)
		}
	}
	return nil
}

// fileIDsOf returns the DocTransfer idnumber of each attachment and checks that every signature
// refers to the text or to an attachment.
func fileIDsOf(sub schemas.Submission) ([]string, error) {
	ids := make([]string, len(sub.Attachments))
	for i := range sub.Attachments {
		ids[i] = filePrefix + strconv.Itoa(i+1)
	}
	for i, sig := range sub.Signatures {
		if sig.Format == "" {
			return nil, fmt.Errorf("submission: signature %d: empty format", i)
		}
		if signedID(sig.Of, sub, ids) == "" {
			return nil, fmt.Errorf("submission: signature %d: of is neither \"text\" nor the id of an attachment", i)
		}
	}
	return ids, nil
}

// signedID returns the idnumber of the DocTransfer that a signature's "of" names, or "".
func signedID(of string, sub schemas.Submission, fileIDs []string) string {
	if of == textID {
		return textID
	}
	for i, att := range sub.Attachments {
		if att.ID != "" && att.ID == of {
			return fileIDs[i]
		}
	}
	return ""
}

func kindLabel(sub schemas.Submission) string {
	if sub.CaseKind == schemas.CaseInfoRequest {
		return infoRequestLabel
	}
	return kindLabels[sub.AppealKind]
}

func textFileName(sub schemas.Submission) string {
	if sub.CaseKind == schemas.CaseInfoRequest {
		return "info-request.txt"
	}
	return "appeal.txt"
}

func joinNonEmpty(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}

// builder writes attributes and text, keeping the first value that XML 1.0 cannot carry.
type builder struct{ err error }

// attrs sets key, value pairs on e.
func (b *builder) attrs(e *etree.Element, kv ...string) {
	for i := 0; i+1 < len(kv); i += 2 {
		if err := xmlText(kv[i+1]); err != nil && b.err == nil {
			b.err = fmt.Errorf("%s@%s: %w", e.GetPath(), kv[i], err)
		}
		e.CreateAttr(kv[i], kv[i+1])
	}
}

// text sets e's text.
func (b *builder) text(e *etree.Element, s string) {
	if err := xmlText(s); err != nil && b.err == nil {
		b.err = fmt.Errorf("%s: %w", e.GetPath(), err)
	}
	e.SetText(s)
}

// xmlText reports whether XML 1.0 can carry s exactly: valid UTF-8 and only XML characters. It
// never quotes s (it may be personal data).
func xmlText(s string) error {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return errors.New("invalid UTF-8")
			}
		}
		if !isXMLChar(r) {
			return fmt.Errorf("character U+%04X cannot be carried in XML 1.0", r)
		}
	}
	return nil
}

func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
