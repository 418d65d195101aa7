// Package sev1207 speaks SEV OVV exchange format 1207, version 1.5 (registry name "sev1207", media
// type application/xml): the XML that Ukrainian authorities' document systems (СЕД) exchange. It
// encodes a delivery as a document message from the hub to the authority (Encode), decodes the
// notices and answers an authority sends back (DecodeMessage, DecodeMessages), the synchronous
// answer to a push (DecodeReply), and, for receiving systems such as the sandbox, a document the
// hub wrote (DecodeDocument). schemas/sev1207.xsd (schemas.SEV1207XSD) is the project's XSD for
// all of it; it is the only package that uses github.com/beevik/etree.
//
// # Writing: the hub's model → 1207
//
//	Hub                                   1207 v1.5
//	------------------------------------  ------------------------------------------------------------
//	Document.DeliveryID                   Header@msg_id, Document@idnumber (an answer refers to it)
//	Document.ReceivedAt                   Header@time (UTC, whole seconds); RegNumber@regdate (Kyiv date)
//	Document.TrackingNumber               Document/RegNumber: the hub's registration of the appeal
//	Document.Authority                    Header@to_org_id, Document/Addressee[@type=0]/Organization@ogrn
//	Config.RecipientFunc (name, system)   Header@to_organization, @to_sys_id, @to_system; Organization@fullname
//	Config.HubCode, HubSystemID           Header@from_org_id, @from_sys_id (with HubName, HubSystem)
//	—                                     Header@msg_type=1 (document), @msg_acknow=2 (every notice wanted)
//	Submission.CaseKind, AppealKind       Document@kind: Пропозиція (зауваження) | Заява (клопотання) |
//	                                      Скарга | Запит на публічну інформацію
//	Submission.Subject                    Document@title
//	Submission.Urgent                     Document@urgent (0 or 1)
//	Submission.Collective                 Document@collection (0 or 1)
//	—                                     Document@type=0, @purpose_type=3 (for execution), Confident@flag=0
//	Submission.Text                       DocTransfer idnumber="text" type="txt" char_set="UTF-8": the
//	                                      exact UTF-8 bytes, base64 (what a "text" signature signs)
//	Submission.Attachments[i]             DocTransfer idnumber="file-<i+1>": content base64, description =
//	                                      file name, type = its extension (else one from the media type)
//	Applicant.Surname, Name, Patronymic   Author/PrivatePerson/Name@secname, @firstname, @fathersname
//	                                      (and the full name as the element's text)
//	Applicant.Category                    Author/PrivatePerson/Rank@privilege
//	Applicant.Address                     Author/PrivatePerson/Address (as one line of text)
//	Applicant.Email, Phone                Author/PrivatePerson/Econtact type="п" (e-mail), type="м" (phone)
//	Submission.Signatures                 Expansion/StaticExpansion/SignInfo (format cades-detached):
//	                                      @docTransfer_idnumber = the signed DocTransfer, SignData = the
//	                                      signature's exact bytes, base64
//	the rest (below)                      Expansion[@organization="appealhub"]/Appeal
//
// The hub's Appeal element carries what 1207 has no place for, so that DecodeDocument gives the
// Document back field by field: AppealID, Attempt, ReceivedAt to the nanosecond, the exact
// case_kind and appeal_kind, UrgencyReason, co-signers, every addressee code of the case, topic,
// territory, topic codes, repeat_of, complaint_against, the portal's submission id and time, each
// attachment's own id, exact media type, size and SHA-256 (File, named by idnumber), and
// signatures in formats other than cades-detached (Signature). 1207 lets Expansion hold any element
// after StaticExpansion, so other systems skip it; the published Header.xsd accepts it.
//
// Values are written exactly (attribute tabs, line feeds and carriage returns as character
// references); a value that XML 1.0 cannot carry at all (a control character, U+FFFE) makes Encode
// fail, naming the field, rather than change it. The output is the same bytes for the same
// Document: no clock, no map order.
//
// What is not mapped: Document@type stays 0 and purpose_type 3 whatever the case (the samples and
// the published schema give no appeal-specific values the hub could rely on); the address is not
// split into street, house and flat; the phone is always written as a mobile number; the citizen's
// signing time is not written (a time the signer asserts is never trusted); Author/OutNumber,
// DocNumber, Validator and Writer are not written (a citizen has no outgoing number and the hub
// signs nothing); without a RecipientFunc the authority's name and SEV system id are its code.
//
// # Reading: 1207 → authority messages
//
//	1207 v1.5                                               schemas.AuthorityMessage
//	------------------------------------------------------  -------------------------------------------
//	Header@msg_id, @time                                    MessageID, At
//	Acknowledgement@msg_id (notice, msg_type 0)             Of: the hub's msg_id, i.e. the delivery id
//	ack_type 1 | 2 | 3 | 4                                  Type delivered | accepted | registered | refused
//	Acknowledgement/RegNumber, @regdate (ack_type 3)        RegistrationNumber, RegistrationDate (Kyiv)
//	AckResult@errortext (non-empty ones, joined by "; ")    RefusalText
//	an errortext stating a ground's wording (resolution 55) RefusalCode (schemas.RefusalText), else ""
//	Acknowledgement/DocTransfer                             Documents
//	Document with Addressee/Referred[@retype="д"]@idnumber  Type answered, Of = that idnumber
//	Document@annotation (else @title)                       Text
//	Document/DocTransfer (description, type, content)       Documents (FileName, MediaType, Content)
//	Expansion/StaticExpansion/SignInfo                      Documents[…].Signatures (cades-detached,
//	                                                        Of = the document's file name)
//
// Peer (Adapter.Peer) is the authority's side of the same mapping, for the sandbox and the
// conformance kit: it reads the hub's documents (DecodeDocument) and writes notices and answers
// that DecodeMessage reads back, a refusal's code as its wording in errortext.
//
// Not read: the sender's organisation and system (the caller authenticates the authority and
// checks that Of is one of its deliveries), the answer's own registration number, Approval,
// TaskList and AddDocuments. 1207 has no notice for an extension of the term, a forward, a return
// or an answer's outcome, so those authority message types never come from this format. ack_type 5
// and documents that refer to no document (initiative letters) are refused with ErrUnsupported.
//
// # Hardened reading
//
// Every body is checked in this order, each failure with its own sentinel error: the size limit
// (ErrTooLarge, Config.MaxMessageBytes, 25 MiB by default); a UTF-8 byte-order mark is dropped; a
// document type or entity declaration anywhere is refused before any parser runs (ErrDTD); a
// token-level pre-scan refuses an encoding other than UTF-8 or windows-1251 (ErrEncoding),
// nesting deeper than Config.MaxDepth (ErrTooDeep, 64 by default) and anything but one root
// element; only then is the tree built, strictly, with no entities beyond the predefined five.
// A root other than an un-namespaced Header with standart="1207" and version="1.5" is
// ErrNotSEV1207; anything else the hub needs and cannot read is ErrMalformed. DecodeMessage marks
// its errors adapters.Permanent; DecodeReply does not (the push is retried under the same msg_id).
package sev1207
