package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"appealhub/adapters"
	"appealhub/adapters/httppush"
	"appealhub/schemas"
)

// oncePerDocument are the message types a system sends once per document: two distinct messages
// of one of these types about one delivery mean it took the delivery as two documents.
var oncePerDocument = []schemas.AuthorityMessageType{schemas.MsgDelivered, schemas.MsgAccepted,
	schemas.MsgRegistered, schemas.MsgRefused, schemas.MsgAnswered}

// positive are the message types that say a document was taken.
var positive = []schemas.AuthorityMessageType{schemas.MsgDelivered, schemas.MsgAccepted,
	schemas.MsgRegistered, schemas.MsgAnswered}

// run runs every case in order and returns their results.
func (k *kit) run(ctx context.Context) []Result {
	var results []Result
	record := func(id string, start time.Time, status Status, format string, args ...any) Result {
		r := Result{Case: id, Status: status, Reason: fmt.Sprintf(format, args...), Elapsed: time.Since(start).Round(time.Millisecond)}
		k.log.Info("case done", zap.String("case", id), zap.String("status", string(status)))
		results = append(results, r)
		return r
	}
	skipRest := func(from int, why string) []Result {
		for _, id := range Cases()[from:] {
			record(id, time.Now(), Skip, "%s", why)
		}
		return results
	}

	main, err := k.newDocument(0)
	if err != nil {
		record(CaseDelivery, time.Now(), Fail, "the kit could not build its test document: %v", err)
		return skipRest(1, "the kit could not build its test document")
	}

	// 1. delivery
	start := time.Now()
	status, reason := k.deliver(ctx, main)
	delivered := record(CaseDelivery, start, status, "%s", reason).Status == Pass
	notDelivered := "skipped: the delivery case did not pass"

	// 2. acknowledgement
	start = time.Now()
	if !delivered {
		record(CaseAcknowledgement, start, Skip, "%s", notDelivered)
	} else if m, ok := k.expect(ctx, k.cfg.Timeout, main.doc.DeliveryID, schemas.MsgDelivered, schemas.MsgAccepted); ok {
		record(CaseAcknowledgement, start, Pass, "%s (message %s)", m.Type, clip(m.MessageID))
	} else {
		record(CaseAcknowledgement, start, Fail, "no delivered or accepted message about the delivery within %s%s",
			k.cfg.Timeout, k.diagnosis())
	}

	// 3. registration
	start = time.Now()
	registered, refused := false, false
	var m schemas.AuthorityMessage
	ok := false
	if delivered {
		m, ok = k.expect(ctx, k.cfg.Timeout, main.doc.DeliveryID, schemas.MsgRegistered, schemas.MsgRefused)
	}
	switch {
	case !delivered:
		record(CaseRegistration, start, Skip, "%s", notDelivered)
	case !ok:
		record(CaseRegistration, start, Fail, "no registered or refused message about the delivery within %s%s",
			k.cfg.Timeout, k.diagnosis())
	case m.Type == schemas.MsgRegistered && (m.RegistrationNumber == "" || m.RegistrationDate == nil):
		record(CaseRegistration, start, Fail, "registered without a registration number and date")
	case m.Type == schemas.MsgRegistered:
		registered = true
		record(CaseRegistration, start, Pass, "registered as %q on %s", clip(m.RegistrationNumber),
			m.RegistrationDate.Format(time.DateOnly))
	case !slices.Contains(schemas.RefusalCodes(), m.RefusalCode):
		record(CaseRegistration, start, Fail, "refused without a valid reason: the refusal states no ground of the "+
			"closed list of resolution No. 55 (code %q, text %q)", clip(m.RefusalCode), clip(m.RefusalText))
	default:
		refused = true
		record(CaseRegistration, start, Pass, "refused on a valid ground: %s (%s)", m.RefusalCode, clip(m.RefusalText))
	}

	// 4. answer
	start = time.Now()
	switch {
	case k.cfg.SkipAnswer:
		record(CaseAnswer, start, Skip, "skipped on request (--skip-answer)")
	case !delivered:
		record(CaseAnswer, start, Skip, "%s", notDelivered)
	case refused:
		record(CaseAnswer, start, Skip, "skipped: registration was refused, no answer is due")
	case !registered:
		record(CaseAnswer, start, Skip, "skipped: the registration case did not pass")
	default:
		m, ok := k.expect(ctx, k.cfg.AnswerTimeout, main.doc.DeliveryID, schemas.MsgAnswered)
		switch {
		case !ok:
			record(CaseAnswer, start, Fail, "no answered message about the delivery within %s%s", k.cfg.AnswerTimeout, k.diagnosis())
		case !hasContent(m.Documents):
			record(CaseAnswer, start, Fail, "answered without an answer document")
		default:
			outcome := "outcome not stated, as in 1207"
			if m.Outcome != "" {
				outcome = "outcome " + string(m.Outcome)
			}
			record(CaseAnswer, start, Pass, "answered (%s) with %d document(s)", outcome, len(m.Documents))
		}
	}

	// 5. redelivery
	start = time.Now()
	if !delivered {
		record(CaseRedelivery, start, Skip, "%s", notDelivered)
	} else {
		status, reason := k.redeliver(ctx, main)
		record(CaseRedelivery, start, status, "%s", reason)
	}

	// 6. large attachment
	start = time.Now()
	if large, err := k.newDocument(k.cfg.LargeAttachment); err != nil {
		record(CaseLargeAttachment, start, Fail, "the kit could not build its test document: %v", err)
	} else {
		status, reason := k.deliver(ctx, large)
		record(CaseLargeAttachment, start, status, "%d-byte attachment, %d-byte document: %s",
			k.cfg.LargeAttachment, len(large.body), reason)
	}

	// 7. error replies
	start = time.Now()
	status, reason = k.errorReplies(ctx)
	record(CaseErrorReply, start, status, "%s", reason)

	// 8. messages: let late messages arrive, then check all of them.
	start = time.Now()
	k.quiet(ctx)
	status, reason = k.checkMessages()
	record(CaseMessages, start, status, "%s", reason)
	return results
}

// deliver hands a document to the system: push POSTs it, pull offers it in the inbox and waits
// until the system fetches and acknowledges it.
func (k *kit) deliver(ctx context.Context, d testDoc) (Status, string) {
	if k.cfg.Mode == ModePull {
		k.offer(d.doc.DeliveryID, d.doc.TrackingNumber, d.body)
		return k.awaitTaken(ctx, d.doc.DeliveryID)
	}
	k.mu.Lock()
	k.sent[d.doc.DeliveryID] = true
	k.mu.Unlock()
	return k.push(ctx, d.doc.DeliveryID, d.body, k.adapter.MediaType())
}

// push POSTs body under the idempotency key id and expects a 2xx whose reply, if any, decodes.
func (k *kit) push(ctx context.Context, id string, body []byte, mediaType string) (Status, string) {
	resp, err := k.send(ctx, id, body, mediaType)
	if err != nil {
		return Fail, describeSendError(err, k.cfg.RequestTimeout)
	}
	rep, err := k.adapter.DecodeReply(resp.MediaType, resp.Body)
	if err != nil {
		return Fail, fmt.Sprintf("HTTP %d, but the reply does not decode as %s: %v", resp.Status, k.cfg.Format, err)
	}
	return Pass, fmt.Sprintf("HTTP %d; reply: %s", resp.Status, describeReply(rep))
}

func (k *kit) send(ctx context.Context, id string, body []byte, mediaType string) (adapters.Response, error) {
	return k.transport.Send(ctx, adapters.Request{Endpoint: k.cfg.Endpoint, DeliveryID: id, MediaType: mediaType,
		Body: body, Token: k.cfg.EndpointToken})
}

// awaitTaken waits until a pull-mode system has fetched and acknowledged the inbox item id.
func (k *kit) awaitTaken(ctx context.Context, id string) (Status, string) {
	var fetched, listed int
	ok := k.waitFor(ctx, k.cfg.Timeout, func() bool {
		it := k.inbox[id]
		fetched, listed = it.fetched, it.listed
		return it.acked
	})
	switch {
	case ok:
		return Pass, fmt.Sprintf("listed %d time(s), fetched %d time(s) and acknowledged", listed, fetched)
	case listed == 0:
		return Fail, fmt.Sprintf("the system did not list its inbox (GET %s) within %s%s", k.inboxURL(), k.cfg.Timeout, k.diagnosis())
	case fetched == 0:
		return Fail, fmt.Sprintf("listed, but the document was not fetched within %s", k.cfg.Timeout)
	default:
		return Fail, fmt.Sprintf("fetched, but not acknowledged (POST …/inbox/{id}/ack) within %s", k.cfg.Timeout)
	}
}

// redeliver sends the document again under the same idempotency key and watches for a second
// document.
func (k *kit) redeliver(ctx context.Context, d testDoc) (Status, string) {
	status, reason := k.deliver(ctx, d)
	if status != Pass {
		return status, "the same document again: " + reason
	}
	k.quiet(ctx)
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, t := range oncePerDocument {
		var ids []string
		for _, m := range k.order {
			if m.Of == d.doc.DeliveryID && m.Type == t {
				ids = append(ids, clip(m.MessageID))
			}
		}
		if len(ids) > 1 {
			return Fail, fmt.Sprintf("taken again, but as a second document: %d different %s messages about one delivery id (%s)",
				len(ids), t, strings.Join(ids, ", "))
		}
	}
	return Pass, fmt.Sprintf("taken again (%s) and no second document within %s", reason, k.cfg.Quiet)
}

// errorReplies sends malformed documents: another format's document and a truncated one. Push
// expects a 4xx (not 408 or 429) for each; pull expects each to be fetched and not taken.
func (k *kit) errorReplies(ctx context.Context) (Status, string) {
	type probe struct {
		name string
		id   string
		body []byte
	}
	var probes []probe
	for _, name := range []string{"wrong format", "truncated"} {
		d, err := k.newDocument(0)
		if err != nil {
			return Fail, fmt.Sprintf("the kit could not build its test document: %v", err)
		}
		body := d.body[:len(d.body)/2]
		if name == "wrong format" {
			if body, err = k.other.Encode(d.doc); err != nil {
				return Fail, fmt.Sprintf("the kit could not build its test document: %v", err)
			}
		}
		probes = append(probes, probe{name: name, id: d.doc.DeliveryID, body: body})
	}

	if k.cfg.Mode == ModePull {
		ids := make([]string, len(probes))
		for i, p := range probes {
			ids[i] = p.id
			k.offer(p.id, "", p.body)
		}
		fetchedAll := k.waitFor(ctx, k.cfg.Timeout, func() bool {
			for _, id := range ids {
				if k.inbox[id].fetched == 0 {
					return false
				}
			}
			return true
		})
		if !fetchedAll {
			return Fail, fmt.Sprintf("the malformed documents were not fetched from the inbox within %s", k.cfg.Timeout)
		}
		k.quiet(ctx)
		k.mu.Lock()
		defer k.mu.Unlock()
		var parts []string
		for _, p := range probes {
			for _, m := range k.order {
				if m.Of == p.id && slices.Contains(positive, m.Type) {
					return Fail, fmt.Sprintf("a malformed document (%s) was taken: %s message %s", p.name, m.Type, clip(m.MessageID))
				}
			}
			parts = append(parts, fmt.Sprintf("%s: fetched, not taken (acknowledged: %t)", p.name, k.inbox[p.id].acked))
		}
		return Pass, strings.Join(parts, "; ")
	}

	var parts []string
	for _, p := range probes {
		k.mu.Lock()
		k.sent[p.id] = true
		k.mu.Unlock()
		resp, err := k.send(ctx, p.id, p.body, k.adapter.MediaType())
		if err == nil {
			return Fail, fmt.Sprintf("a malformed document (%s) was accepted with HTTP %d: answer 4xx", p.name, resp.Status)
		}
		se, ok := errors.AsType[*httppush.StatusError](err)
		switch {
		case !ok:
			return Fail, fmt.Sprintf("a malformed document (%s): %s", p.name, describeSendError(err, k.cfg.RequestTimeout))
		case se.Status >= 500:
			return Fail, fmt.Sprintf("a malformed document (%s) got HTTP %d: a 5xx makes the hub retry it forever; answer 4xx",
				p.name, se.Status)
		case se.Status < 400 || se.Status == http.StatusRequestTimeout || se.Status == http.StatusTooManyRequests:
			return Fail, fmt.Sprintf("a malformed document (%s) got HTTP %d: answer 4xx (not 408 or 429)", p.name, se.Status)
		}
		parts = append(parts, fmt.Sprintf("%s: HTTP %d", p.name, se.Status))
	}
	return Pass, strings.Join(parts, "; ")
}

// checkMessages judges everything the system sent to the messages endpoint.
func (k *kit) checkMessages() (Status, string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var problems []string
	if n := len(k.undecodable); n > 0 {
		problems = append(problems, fmt.Sprintf("%d body(ies) did not decode as %s (first: %s)", n, k.cfg.Format, clipLong(k.undecodable[0])))
	}
	if n := len(k.unknown); n > 0 {
		problems = append(problems, fmt.Sprintf("%d body(ies) referred to deliveries the kit never sent (first: %s)", n, k.unknown[0]))
	}
	if n := len(k.conflicts); n > 0 {
		problems = append(problems, fmt.Sprintf("%d message id(s) repeated with different content (first: %s)", n, clip(k.conflicts[0])))
	}
	if n := len(k.unauthorized); n > 0 {
		problems = append(problems, fmt.Sprintf("%d request(s) refused (first: %s)", n, k.unauthorized[0]))
	}
	if len(problems) > 0 {
		return Fail, strings.Join(problems, "; ")
	}
	if len(k.order) == 0 {
		return Fail, fmt.Sprintf("no message reached the kit: the system must send its messages to %s", k.messagesURL())
	}
	return Pass, fmt.Sprintf("%d message(s) in %d body(ies), all decoded and about the kit's deliveries; %d repeat(s), all identical",
		len(k.order), k.bodies, k.repeats)
}

// expect waits up to d for a message about delivery of one of the given types and returns the
// first that arrived.
func (k *kit) expect(ctx context.Context, d time.Duration, delivery string, types ...schemas.AuthorityMessageType) (schemas.AuthorityMessage, bool) {
	var found schemas.AuthorityMessage
	ok := k.waitFor(ctx, d, func() bool {
		for _, m := range k.order {
			if m.Of == delivery && slices.Contains(types, m.Type) {
				found = m
				return true
			}
		}
		return false
	})
	return found, ok
}

// diagnosis says, after a wait that failed, what did reach the kit, if anything.
func (k *kit) diagnosis() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var parts []string
	if n := len(k.undecodable); n > 0 {
		parts = append(parts, fmt.Sprintf("%d message body(ies) did not decode (first: %s)", n, clipLong(k.undecodable[0])))
	}
	if n := len(k.unauthorized); n > 0 {
		parts = append(parts, fmt.Sprintf("%d request(s) refused (first: %s)", n, k.unauthorized[0]))
	}
	if n := len(k.unknown); n > 0 {
		parts = append(parts, fmt.Sprintf("%d body(ies) about deliveries the kit never sent", n))
	}
	if len(parts) == 0 && len(k.order) == 0 {
		return "; no message reached the kit at " + k.messagesURL()
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, "; ")
}

func hasContent(docs []schemas.AuthorityDocument) bool {
	for _, d := range docs {
		if len(d.Content) > 0 {
			return true
		}
	}
	return false
}

// describeSendError says why a push failed, in words an IT department can act on.
func describeSendError(err error, timeout time.Duration) string {
	if se, ok := errors.AsType[*httppush.StatusError](err); ok {
		return fmt.Sprintf("the system answered HTTP %d %s", se.Status, http.StatusText(se.Status))
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Sprintf("no answer within %s (the system hangs)", timeout)
	}
	return fmt.Sprintf("no answer: %v", err)
}

func describeReply(r adapters.Reply) string {
	var parts []string
	if r.Delivered {
		parts = append(parts, "delivered")
	} else {
		parts = append(parts, "sent, not yet confirmed")
	}
	if r.RegistrationNumber != "" {
		parts = append(parts, fmt.Sprintf("registration number %q", clip(r.RegistrationNumber)))
	}
	return strings.Join(parts, ", ")
}

// quiet waits Quiet (or until ctx is done): the time a system has to do what it must not do, or
// to send what is late.
func (k *kit) quiet(ctx context.Context) {
	t := time.NewTimer(k.cfg.Quiet)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
