package sev1207

import (
	"fmt"
	"strconv"
	"time"

	"github.com/beevik/etree"

	"appealhub/adapters"
	"appealhub/schemas"
)

// DecodeDocument reads a document message that the hub wrote (Encode) back into the Document it
// was made from, Raw aside: what a receiving system needs, such as the sandbox or a test. It reads
// with the same limits as DecodeMessage. A 1207 document that lacks the hub's Expansion/Appeal is
// refused with ErrUnsupported. Errors are marked adapters.Permanent. It never panics and is safe
// for concurrent use.
func (a *Adapter) DecodeDocument(body []byte) (adapters.Document, error) {
	doc, err := a.decodeDocument(body)
	if err != nil {
		return adapters.Document{}, adapters.Permanent(fmt.Errorf("decode sev1207 document: %w", err))
	}
	return doc, nil
}

func (a *Adapter) decodeDocument(body []byte) (adapters.Document, error) {
	h, err := a.readHeader(body)
	if err != nil {
		return adapters.Document{}, err
	}
	d := child(h.root, "Document")
	if h.msgType != msgTypeDocument || d == nil {
		return adapters.Document{}, fmt.Errorf("%w: not a document message (msg_type 1 with Document)", ErrUnsupported)
	}
	var ap *etree.Element
	for exp := range children(h.root, "Expansion") {
		if org, _ := attr(exp, "organization"); org == ExpansionOrganization {
			ap = child(exp, "Appeal")
		}
	}
	if ap == nil {
		return adapters.Document{}, fmt.Errorf("%w: no Expansion/Appeal of organization %q: not a document from the hub", ErrUnsupported, ExpansionOrganization)
	}

	out := adapters.Document{DeliveryID: h.msgID}
	out.Authority, _ = attr(h.root, "to_org_id")
	out.AppealID = value(ap, "appeal_id")
	if reg := child(d, "RegNumber"); reg != nil {
		out.TrackingNumber = reg.Text()
	}
	if out.Attempt, err = strconv.Atoi(value(ap, "attempt")); err != nil {
		return adapters.Document{}, fmt.Errorf("%w: Appeal@attempt: %w", ErrMalformed, err)
	}
	if out.ReceivedAt, err = time.Parse(time.RFC3339Nano, value(ap, "received_at")); err != nil {
		return adapters.Document{}, fmt.Errorf("%w: Appeal@received_at: %w", ErrMalformed, err)
	}

	sub := &out.Submission
	sub.CaseKind = schemas.CaseKind(value(ap, "case_kind"))
	sub.AppealKind = schemas.AppealKind(value(ap, "appeal_kind"))
	sub.Urgent = value(d, "urgent") == "1"
	sub.Collective = value(ap, "collective") == "true"
	if v := value(ap, "co_signers"); v != "" {
		if sub.CoSigners, err = strconv.Atoi(v); err != nil {
			return adapters.Document{}, fmt.Errorf("%w: Appeal@co_signers: %w", ErrMalformed, err)
		}
	}
	sub.Topic = value(ap, "topic")
	sub.Territory = value(ap, "territory")
	sub.RepeatOf = value(ap, "repeat_of")
	sub.ComplaintAgainst = value(ap, "complaint_against")
	sub.PortalSubmissionID = value(ap, "portal_submission_id")
	if v := value(ap, "submitted_at"); v != "" {
		at, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return adapters.Document{}, fmt.Errorf("%w: Appeal@submitted_at: %w", ErrMalformed, err)
		}
		sub.SubmittedAt = &at
	}
	if e := child(ap, "UrgencyReason"); e != nil {
		sub.UrgencyReason = e.Text()
	}
	for e := range children(ap, "Addressee") {
		sub.Addressees = append(sub.Addressees, e.Text())
	}
	for e := range children(ap, "TopicCode") {
		sub.TopicCodes = append(sub.TopicCodes, e.Text())
	}
	sub.Subject = value(d, "title")
	if author := child(d, "Author"); author != nil {
		if p := child(author, "PrivatePerson"); p != nil {
			sub.Applicant = readPerson(p)
		}
	}

	files := make(map[string]*etree.Element)
	for f := range children(ap, "File") {
		id, _ := attr(f, "idnumber")
		files[id] = f
	}
	attachmentIDs := map[string]string{textID: textID} // DocTransfer idnumber → signature "of"
	for dt := range children(d, "DocTransfer") {
		content, err := decodeBase64(dt.Text())
		if err != nil {
			return adapters.Document{}, fmt.Errorf("%w: DocTransfer content: %w", ErrMalformed, err)
		}
		id, _ := attr(dt, "idnumber")
		if id == textID {
			sub.Text = string(content)
			continue
		}
		att := schemas.Attachment{FileName: value(dt, "description"), Content: content}
		if f := files[id]; f != nil {
			att.ID = value(f, "id")
			att.MediaType = value(f, "media_type")
			att.SHA256 = value(f, "sha256")
			if v := value(f, "size"); v != "" {
				if att.Size, err = strconv.ParseInt(v, 10, 64); err != nil {
					return adapters.Document{}, fmt.Errorf("%w: File@size: %w", ErrMalformed, err)
				}
			}
		} else {
			att.MediaType = mediaTypeOf(value(dt, "type"), att.FileName)
		}
		attachmentIDs[id] = att.ID
		sub.Attachments = append(sub.Attachments, att)
	}
	for _, si := range signInfos(h.root) {
		id, _ := attr(si, "docTransfer_idnumber")
		of, ok := attachmentIDs[id]
		if !ok || of == "" {
			return adapters.Document{}, fmt.Errorf("%w: SignInfo names DocTransfer %q, which the message does not hold", ErrMalformed, clip(id))
		}
		v, err := signData(si)
		if err != nil {
			return adapters.Document{}, err
		}
		sub.Signatures = append(sub.Signatures, schemas.Signature{Of: of, Format: formatCAdES, Value: v})
	}
	for s := range children(ap, "Signature") {
		v, err := decodeBase64(s.Text())
		if err != nil {
			return adapters.Document{}, fmt.Errorf("%w: Appeal/Signature: %w", ErrMalformed, err)
		}
		sub.Signatures = append(sub.Signatures, schemas.Signature{Of: value(s, "of"), Format: value(s, "format"), Value: v})
	}
	return out, nil
}

// readPerson is the inverse of writePerson.
func readPerson(p *etree.Element) schemas.Applicant {
	var ap schemas.Applicant
	if n := child(p, "Name"); n != nil {
		ap.Surname = value(n, "secname")
		ap.Name = value(n, "firstname")
		ap.Patronymic = value(n, "fathersname")
	}
	if r := child(p, "Rank"); r != nil {
		ap.Category = value(r, "privilege")
	}
	if e := child(p, "Address"); e != nil {
		ap.Address = e.Text()
	}
	for e := range children(p, "Econtact") {
		switch value(e, "type") {
		case econtactEmail:
			ap.Email = e.Text()
		case econtactPhone:
			ap.Phone = e.Text()
		}
	}
	return ap
}
