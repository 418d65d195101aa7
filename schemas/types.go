package schemas

import (
	"encoding/json"
	"time"
)

// CaseKind is the legal kind of a case.
type CaseKind string

const (
	// CaseAppeal is an appeal under the law on citizens' appeals (proposal, application, complaint).
	CaseAppeal CaseKind = "appeal"
	// CaseInfoRequest is a request for public information.
	CaseInfoRequest CaseKind = "info_request"
)

// AppealKind is the form of an appeal.
type AppealKind string

const (
	AppealProposal    AppealKind = "proposal"
	AppealApplication AppealKind = "application"
	AppealComplaint   AppealKind = "complaint"
)

// Applicant is the citizen who submits. Every field is personal data: never log it.
type Applicant struct {
	Surname    string `json:"surname"`
	Name       string `json:"name"`
	Patronymic string `json:"patronymic,omitempty"`
	Address    string `json:"address,omitempty"`
	Email      string `json:"email,omitempty"`
	Phone      string `json:"phone,omitempty"`
	Category   string `json:"category,omitempty"`
}

// Attachment is a file that comes with a submission. Content is carried base64-encoded in JSON.
type Attachment struct {
	ID        string `json:"id,omitempty"`
	FileName  string `json:"file_name"`
	MediaType string `json:"media_type"`
	Size      int64  `json:"size,omitempty"`
	SHA256    string `json:"sha256,omitempty"`
	Content   []byte `json:"content"`
}

// Signature is a detached signature over the appeal document ("text") or one attachment (its id).
type Signature struct {
	Of     string `json:"of"`
	Format string `json:"format"`
	Value  []byte `json:"value"`
}

// Signature formats (Signature.Format) and the "of" of a signature over the appeal's text.
const (
	// SignatureCAdESDetached is a detached CMS SignedData (CAdES-BES), DER: the format intake
	// verifies.
	SignatureCAdESDetached = "cades-detached"
	// SignatureXAdESEnveloped is an enveloped XML signature: kept and delivered, never verified.
	SignatureXAdESEnveloped = "xades-enveloped"
	// SignatureOfText is the "of" of a signature over the UTF-8 bytes of the submission's text.
	SignatureOfText = "text"
)

// Signer is what a verified signature says about its signer: the facts the hub stores with the
// case and delivers with it (internal/signature fills them; docs/signatures.md). Subject, Issuer
// and TaxNumber are personal data: never log them (CertificateSHA256 names the certificate in
// logs). The JSON names are stored and delivered: never rename one.
type Signer struct {
	// Subject is the signer certificate's subject, RFC 2253-like ("SERIALNUMBER=TINUA-…,CN=…").
	Subject string `json:"subject"`
	// Issuer is the signer certificate's issuer, in the same form.
	Issuer string `json:"issuer"`
	// SerialNumber is the signer certificate's serial number in lower-case hex.
	SerialNumber string    `json:"serial_number"`
	NotBefore    time.Time `json:"not_before"`
	NotAfter     time.Time `json:"not_after"`
	// TaxNumber is the РНОКПП (10 digits) the certificate carries, "" when it carries none.
	TaxNumber string `json:"tax_number,omitempty"`
	// DigestAlgorithm and SignatureAlgorithm are the algorithms' stable names ("sha256",
	// "ecdsa-p256", …, or the external verifier's, e.g. "gost34311", "dstu4145").
	DigestAlgorithm    string `json:"digest_algorithm"`
	SignatureAlgorithm string `json:"signature_algorithm"`
	// CertificateSHA256 is the SHA-256 of the signer certificate's DER, lower-case hex.
	CertificateSHA256 string `json:"certificate_sha256"`
	// ClaimedSigningTime is the signer's signingTime attribute: a claim, never trusted. Absent when
	// the signature has none.
	ClaimedSigningTime *time.Time `json:"claimed_signing_time,omitempty"`
	// Revocation is RevocationGood or RevocationUnchecked.
	Revocation string `json:"revocation"`
}

// Revocation states of Signer.Revocation (stored: never rename one).
const (
	// RevocationGood: every certificate of the chain below the trust anchor was checked against a
	// current CRL of its issuer.
	RevocationGood = "good"
	// RevocationUnchecked: some certificate had no current CRL and CRLs were not required.
	RevocationUnchecked = "unchecked"
)

// VerifiedSignature is one signature of a submission that intake verified, with its signer's facts.
type VerifiedSignature struct {
	// Index is the signature's position in the submission's signatures: its JSON pointer is
	// /signatures/<index>.
	Index int `json:"index"`
	// Of is "text" or the id of the attachment the signature signs.
	Of string `json:"of"`
	// Format is the signature's format (SignatureCAdESDetached).
	Format string `json:"format"`
	// Signer is what the signature says about its signer.
	Signer Signer `json:"signer"`
}

// Submission is what the portal sends: POST /v1/appeals. Its JSON Schema is
// schemas/submission.schema.json.
type Submission struct {
	CaseKind           CaseKind     `json:"case_kind"`
	AppealKind         AppealKind   `json:"appeal_kind,omitempty"`
	Urgent             bool         `json:"urgent,omitempty"`
	UrgencyReason      string       `json:"urgency_reason,omitempty"`
	Applicant          Applicant    `json:"applicant"`
	Collective         bool         `json:"collective,omitempty"`
	CoSigners          int          `json:"co_signers,omitempty"`
	Addressees         []string     `json:"addressees,omitempty"`
	Topic              string       `json:"topic,omitempty"`
	Territory          string       `json:"territory,omitempty"`
	Subject            string       `json:"subject"`
	Text               string       `json:"text"`
	TopicCodes         []string     `json:"topic_codes,omitempty"`
	Attachments        []Attachment `json:"attachments,omitempty"`
	Signatures         []Signature  `json:"signatures,omitempty"`
	RepeatOf           string       `json:"repeat_of,omitempty"`
	ComplaintAgainst   string       `json:"complaint_against,omitempty"`
	PortalSubmissionID string       `json:"portal_submission_id,omitempty"`
	SubmittedAt        *time.Time   `json:"submitted_at,omitempty"`
}

// DeliveryStatus is the state of one delivery (one case to one recipient). It only moves forward:
// accepted → queued → sent → delivered → registered → answered, with the exits refused, forwarded,
// returned, not_considered and dead.
type DeliveryStatus string

const (
	StatusAccepted      DeliveryStatus = "accepted"
	StatusQueued        DeliveryStatus = "queued"
	StatusSent          DeliveryStatus = "sent"
	StatusDelivered     DeliveryStatus = "delivered"
	StatusRegistered    DeliveryStatus = "registered"
	StatusAnswered      DeliveryStatus = "answered"
	StatusRefused       DeliveryStatus = "refused"
	StatusForwarded     DeliveryStatus = "forwarded"
	StatusReturned      DeliveryStatus = "returned"
	StatusNotConsidered DeliveryStatus = "not_considered"
	StatusDead          DeliveryStatus = "dead"
)

// DeliveryStatuses returns every delivery status, in the order of the state machine
// (docs/state_machine.md): the forward path, then the exits.
func DeliveryStatuses() []DeliveryStatus {
	return []DeliveryStatus{StatusAccepted, StatusQueued, StatusSent, StatusDelivered, StatusRegistered, StatusAnswered,
		StatusRefused, StatusForwarded, StatusReturned, StatusNotConsidered, StatusDead}
}

// Pending reports whether the delivery has not yet reached the authority's system and the hub still
// owes an attempt.
func (s DeliveryStatus) Pending() bool {
	return s == StatusAccepted || s == StatusQueued
}

// Receipt is the intake's answer to an accepted submission (HTTP 202).
type Receipt struct {
	ID             string    `json:"id"`
	TrackingNumber string    `json:"tracking_number"`
	StatusURL      string    `json:"status_url"`
	ReceivedAt     time.Time `json:"received_at"`
	// AccessCode lets the citizen follow the case with its tracking number (GET
	// /v1/track/{tracking_number}?code=). It is shown in this answer only, the first time the
	// submission is accepted: the hub keeps a hash of it, and a replay of the submission answers
	// without it.
	AccessCode string `json:"access_code,omitempty"`
}

// EvidenceType is what a hub-signed receipt attests, after the evidence of ETSI EN 319 522
// (registered electronic delivery). The values are stored and shown: never rename one.
type EvidenceType string

const (
	// EvidenceSubmissionAcceptance: the hub accepted the submission (its bytes and documents).
	EvidenceSubmissionAcceptance EvidenceType = "submission_acceptance"
	// EvidenceDelivery: the hub delivered the case to the authority's document system.
	EvidenceDelivery EvidenceType = "delivery"
	// EvidenceRegistration: the authority reported that it registered the case.
	EvidenceRegistration EvidenceType = "registration"
)

// SignedReceipt is a hub-signed receipt as the portal sees it: GET /v1/appeals/{id}/receipts.
// docs/receipts.md describes Content and how to verify CMS.
type SignedReceipt struct {
	ID         string       `json:"id"`
	Type       EvidenceType `json:"type"`
	AppealID   string       `json:"appeal_id"`
	DeliveryID string       `json:"delivery_id,omitempty"`
	CreatedAt  time.Time    `json:"created_at"`
	// Content is the signed JSON object, byte for byte as signed.
	Content json.RawMessage `json:"content"`
	// CMS is the DER CMS SignedData (CAdES-BES) that encapsulates Content (base64 in JSON).
	CMS []byte `json:"cms"`
}

// Case is a stored case as the portal sees it: GET /v1/appeals/{id}.
type Case struct {
	ID             string     `json:"id"`
	TrackingNumber string     `json:"tracking_number"`
	CaseKind       CaseKind   `json:"case_kind"`
	AppealKind     AppealKind `json:"appeal_kind,omitempty"`
	ReceivedAt     time.Time  `json:"received_at"`
	Deliveries     []Delivery `json:"deliveries"`
	Events         []Event    `json:"events"`
	// Signatures are the submission's signatures that intake verified, with their signers' facts,
	// in submission order; empty when none was verified (none given, or the policy is off).
	Signatures []VerifiedSignature `json:"signatures"`
}

// Delivery is one case addressed to one authority. Its ID is the idempotency key the authority sees,
// the same across every retry.
type Delivery struct {
	ID            string         `json:"id"`
	AppealID      string         `json:"appeal_id,omitempty"`
	Authority     string         `json:"authority"`
	Status        DeliveryStatus `json:"status"`
	Attempts      int            `json:"attempts"`
	NextAttemptAt *time.Time     `json:"next_attempt_at,omitempty"`
	LastError     string         `json:"last_error,omitempty"`
	UpdatedAt     time.Time      `json:"updated_at"`
	DeliveredAt   *time.Time     `json:"delivered_at,omitempty"`
	// RegistrationNumber and RegisteredAt are the authority's registration of the appeal.
	RegistrationNumber string     `json:"registration_number,omitempty"`
	RegisteredAt       *time.Time `json:"registered_at,omitempty"`
	// RefusalCode is the ground of a refusal to register (the closed list of resolution No. 55).
	RefusalCode string `json:"refusal_code,omitempty"`
	// RoutingRule names the rule that chose this authority (explicit, topic_territory,
	// parent_fallback, complaint_parent) and RoutingReason explains it in a sentence; both are empty
	// for deliveries made before routing was recorded.
	RoutingRule   string `json:"routing_rule,omitempty"`
	RoutingReason string `json:"routing_reason,omitempty"`
	// ForwardedFrom is the id of the delivery whose authority forwarded the case to this one
	// (RoutingRule RoutingForwarded); ForwardedTo is the id of the delivery the hub created when
	// this one's authority forwarded the case. Both are of the same case.
	ForwardedFrom string `json:"forwarded_from,omitempty"`
	ForwardedTo   string `json:"forwarded_to,omitempty"`
	// Registrar is who registered the appeal or refused its registration, as the authority states it.
	Registrar string `json:"registrar,omitempty"`
	// RefusalText is the refusal of registration in words, as the applicant reads it.
	RefusalText string `json:"refusal_text,omitempty"`
	// Reason is why the authority forwarded, returned or did not consider the appeal, in its words.
	Reason string `json:"reason,omitempty"`
	// Answer is the authority's answer, once the delivery is answered.
	Answer *Answer `json:"answer,omitempty"`
	// Due are the delivery's current due dates (answer, forward, …), each with how it was
	// computed; absent until the delivery is sent (docs/deadlines.md).
	Due []DueDate `json:"due,omitempty"`
}

// RoutingForwarded is the routing rule of a delivery the hub created because another authority
// forwarded the case to this one as the competent authority (Delivery.ForwardedFrom).
const RoutingForwarded = "forwarded"

// EventType names an entry of a case's timeline. The values are stored and shown: never rename one.
type EventType string

const (
	EventSubmissionAccepted EventType = "submission_accepted"
	EventDeliveryQueued     EventType = "delivery_queued"
	EventDeliveryAttempt    EventType = "delivery_attempt_failed"
	EventDeliveryDelivered  EventType = "delivery_delivered"
	EventDeliverySent       EventType = "delivery_sent"
	EventDeliveryDead       EventType = "delivery_dead"
	EventDeliveryInInbox    EventType = "delivery_in_inbox"
	EventDeliveryFetched    EventType = "delivery_fetched"
	EventDeliveryRetargeted EventType = "delivery_retargeted"
	// EventDeliveryForwardedTo: the hub created a delivery to the authority this delivery's
	// authority forwarded the case to (on the forwarded delivery).
	EventDeliveryForwardedTo EventType = "delivery_forwarded_to"
	// EventDeliveryForwardedFrom: the delivery was created by a forward (on the new delivery).
	EventDeliveryForwardedFrom EventType = "delivery_forwarded_from"
	// EventDeadlineSet: the answer due date of a delivery was set or changed (docs/deadlines.md).
	EventDeadlineSet EventType = "deadline_set"
	// EventDeadlineRecomputed: a new calendar version changed a delivery's due dates.
	EventDeadlineRecomputed EventType = "deadline_recomputed"
	// EventDeadlineOverdue: an answer due date passed with no answer.
	EventDeadlineOverdue EventType = "deadline_overdue"
	// EventDeliveryNoticeMissing: a sent delivery had no delivery notice within 6 hours.
	EventDeliveryNoticeMissing EventType = "delivery_notice_missing"
	// EventDeliveryReconciled: the reconciler sent a delivery in transit again, for the same
	// attempt, because nothing had come of it for longer than reconcile.after (its message was
	// lost after the broker took it, or never left); the detail says why. It leaves the status as
	// it is, so the portal is shown nothing of it.
	EventDeliveryReconciled EventType = "delivery_reconciled"
)

// AuthorityEvent is the timeline entry of an authority message of type t ("authority_registered", …).
func AuthorityEvent(t AuthorityMessageType) EventType { return EventType("authority_" + string(t)) }

// Event is one entry of a case's append-only timeline.
type Event struct {
	Seq        int64          `json:"seq"`
	Type       EventType      `json:"type"`
	DeliveryID string         `json:"delivery_id,omitempty"`
	Authority  string         `json:"authority,omitempty"`
	Status     DeliveryStatus `json:"status,omitempty"`
	Detail     string         `json:"detail,omitempty"`
	At         time.Time      `json:"at"`
}

// AuthorityMessageType is what an authority's system reports about a delivery. The values are
// stored and shown: never rename one.
type AuthorityMessageType string

const (
	MsgDelivered     AuthorityMessageType = "delivered"      // loaded into the authority's system (SEV ack_type 1)
	MsgAccepted      AuthorityMessageType = "accepted"       // taken for processing (SEV ack_type 2)
	MsgRegistered    AuthorityMessageType = "registered"     // registered, with number and date (SEV ack_type 3)
	MsgRefused       AuthorityMessageType = "refused"        // registration refused, with a reason (SEV ack_type 4)
	MsgStatus        AuthorityMessageType = "status"         // an informative status change
	MsgExtended      AuthorityMessageType = "extended"       // the term of consideration is extended
	MsgForwarded     AuthorityMessageType = "forwarded"      // sent on to the competent authority
	MsgReturned      AuthorityMessageType = "returned"       // returned to the applicant (insufficient data)
	MsgNotConsidered AuthorityMessageType = "not_considered" // not considered (anonymous, repeat)
	MsgAnswered      AuthorityMessageType = "answered"       // answered, with documents
)

// AuthorityMessageTypes returns every authority message type, in the order of the JSON Schema's enum.
func AuthorityMessageTypes() []AuthorityMessageType {
	return []AuthorityMessageType{MsgDelivered, MsgAccepted, MsgRegistered, MsgRefused, MsgStatus, MsgExtended,
		MsgForwarded, MsgReturned, MsgNotConsidered, MsgAnswered}
}

// AnswerOutcome is the result of consideration stated in an answer.
type AnswerOutcome string

const (
	OutcomeSatisfied          AnswerOutcome = "satisfied"
	OutcomePartiallySatisfied AnswerOutcome = "partially_satisfied"
	OutcomeRefused            AnswerOutcome = "refused"
	OutcomeExplained          AnswerOutcome = "explained"
	OutcomeNotHeld            AnswerOutcome = "not_held"
)

// AnswerOutcomes returns every answer outcome, in the order of the JSON Schema's enum.
func AnswerOutcomes() []AnswerOutcome {
	return []AnswerOutcome{OutcomeSatisfied, OutcomePartiallySatisfied, OutcomeRefused, OutcomeExplained, OutcomeNotHeld}
}

// AuthorityDocument is a file an authority sends back (an answer and its annexes).
type AuthorityDocument struct {
	FileName   string      `json:"file_name"`
	MediaType  string      `json:"media_type"`
	Content    []byte      `json:"content"`
	Signatures []Signature `json:"signatures,omitempty"`
}

// Answer is an authority's answer to a delivery as the portal reads it (Delivery.Answer): the
// answered message's fields, its documents and their signatures byte for byte as the authority
// sent them.
type Answer struct {
	// MessageID is the authority's id of the answered message.
	MessageID string `json:"message_id"`
	// At is when the hub received it.
	At              time.Time           `json:"at"`
	Outcome         AnswerOutcome       `json:"outcome,omitempty"`
	LegalBasis      string              `json:"legal_basis,omitempty"`
	AppealProcedure string              `json:"appeal_procedure,omitempty"`
	Text            string              `json:"text,omitempty"`
	Documents       []AuthorityDocument `json:"documents,omitempty"`
}

// AuthorityMessage is one message from an authority's system about one delivery, decoded from its
// wire format by the authority's adapter.
type AuthorityMessage struct {
	// MessageID is the sender's id of this message: applying the same id twice changes nothing.
	MessageID string `json:"message_id"`
	// Of is the delivery the message is about: the delivery id the hub sent (SEV msg_id).
	Of   string               `json:"of"`
	Type AuthorityMessageType `json:"type"`
	// At is when the authority's system made the message, as it states it.
	At                 *time.Time          `json:"at,omitempty"`
	RegistrationNumber string              `json:"registration_number,omitempty"`
	RegistrationDate   *time.Time          `json:"registration_date,omitempty"`
	RefusalCode        string              `json:"refusal_code,omitempty"`
	RefusalText        string              `json:"refusal_text,omitempty"`
	Registrar          string              `json:"registrar,omitempty"`
	NewDueDate         *time.Time          `json:"new_due_date,omitempty"`
	Reason             string              `json:"reason,omitempty"`
	ForwardedTo        string              `json:"forwarded_to,omitempty"`
	Outcome            AnswerOutcome       `json:"outcome,omitempty"`
	LegalBasis         string              `json:"legal_basis,omitempty"`
	AppealProcedure    string              `json:"appeal_procedure,omitempty"`
	Text               string              `json:"text,omitempty"`
	Documents          []AuthorityDocument `json:"documents,omitempty"`
	// Simple marks an appeal that needs no further study: its term is 15 days instead of a month
	// (Law "On Citizens' Appeals" art. 20). Meaningful on registered, accepted and status messages.
	Simple bool `json:"simple,omitempty"`
}
