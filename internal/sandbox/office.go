package sandbox

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v5"
	"go.uber.org/zap"

	"appealhub/adapters"
	"appealhub/schemas"
)

// Backoff of a message the hub did not take.
const (
	retryInitial = 50 * time.Millisecond
	retryMax     = 5 * time.Second
)

// outcomes are the answers the sandbox gives, in turn at random.
var outcomes = []schemas.AnswerOutcome{schemas.OutcomeExplained, schemas.OutcomeSatisfied, schemas.OutcomePartiallySatisfied}

// vagueRefusal is the text of a refusal that states no ground of the closed list.
const vagueRefusal = "Відмовлено в реєстрації"

// startOffice starts the goroutine that reports on rec to the hub, when the sandbox has a hub and
// is not closing. s.mu must be held (so that no goroutine starts after Close began waiting).
func (s *Server) startOffice(rec *record) {
	if s.hub == "" || s.closed {
		return
	}
	s.wg.Add(1)
	go s.office(rec)
}

// office does with one document what a real office does: it confirms delivery at once, registers
// (or refuses) it after RegisterAfter and answers it after a further AnswerAfter, reporting each
// step to the hub. It returns when done or when the sandbox closes.
func (s *Server) office(rec *record) {
	defer s.wg.Done()
	ctx := s.ctx
	code := cmp.Or(s.code, rec.Authority)
	log := s.logger.With(zap.String("delivery_id", rec.DeliveryID), zap.String("authority", code))
	if !authorityCode.MatchString(code) {
		log.Warn("the document names no authority code: no messages sent")
		return
	}
	peer := s.wire.peer(code)
	// Every message has a stable id: the same step about the same document is always the same
	// message, and a further copy under IgnoreIdempotency (a broken system) gets its own ids.
	msg := func(t schemas.AuthorityMessageType) schemas.AuthorityMessage {
		now := time.Now().UTC().Truncate(time.Second)
		id := rec.DeliveryID + "." + string(t)
		if rec.copy > 1 {
			id += "." + strconv.Itoa(rec.copy)
		}
		return schemas.AuthorityMessage{MessageID: id, Of: rec.DeliveryID, Type: t, At: &now}
	}

	if !s.send(ctx, log, code, peer, rec, msg(schemas.MsgDelivered)) {
		return
	}
	if !sleepCtx(ctx, s.options().RegisterAfter) {
		return
	}
	s.mu.Lock()
	opts := s.opts
	refuse := opts.RefuseRate > 0 && s.rnd.Float64() < opts.RefuseRate
	grounds := schemas.RefusalCodes()
	ground := grounds[s.rnd.IntN(len(grounds))]
	outcome := outcomes[s.rnd.IntN(len(outcomes))]
	s.mu.Unlock()

	if refuse {
		m := msg(schemas.MsgRefused)
		if opts.RefuseWithoutReason {
			m.RefusalText = vagueRefusal
		} else {
			m.RefusalCode, m.RefusalText = ground, schemas.RefusalText(ground)
		}
		s.send(ctx, log, code, peer, rec, m)
		return
	}
	m := msg(schemas.MsgRegistered)
	m.RegistrationNumber, m.RegistrationDate = rec.RegistrationNumber, m.At
	if !s.send(ctx, log, code, peer, rec, m) {
		return
	}
	if !sleepCtx(ctx, s.options().AnswerAfter) {
		return
	}
	m = msg(schemas.MsgAnswered)
	m.Outcome = outcome
	m.Text = fmt.Sprintf("Звернення %s розглянуто (реєстраційний номер %s).", rec.TrackingNumber, rec.RegistrationNumber)
	m.Documents = []schemas.AuthorityDocument{{FileName: "answer.txt", MediaType: "text/plain",
		Content: []byte("Відповідь на звернення " + rec.TrackingNumber + ".\n" + m.Text + "\n")}}
	s.send(ctx, log, code, peer, rec, m)
}

// send encodes m once and posts it to the hub until the hub takes it, refuses it for good (a 4xx
// other than 408 and 429), or ctx is done. It reports false only when ctx is done.
func (s *Server) send(ctx context.Context, log *zap.Logger, code string, peer adapters.Peer, rec *record, m schemas.AuthorityMessage) bool {
	log = log.With(zap.String("message_id", m.MessageID), zap.String("type", string(m.Type)))
	mediaType, body, err := peer.EncodeMessages([]schemas.AuthorityMessage{m})
	if err != nil {
		log.Error("encode message", zap.Error(err))
		s.mu.Lock()
		s.messagesFailed++
		s.mu.Unlock()
		return true
	}
	endpoint := s.hub + "/v1/authorities/" + url.PathEscape(code) + "/messages"
	b := &backoff.ExponentialBackOff{InitialInterval: retryInitial, RandomizationFactor: 0.3, Multiplier: 2, MaxInterval: retryMax}
	_, err = backoff.Retry(ctx, func() (struct{}, error) {
		return struct{}{}, s.postMessage(ctx, endpoint, mediaType, body)
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0), backoff.WithNotify(func(err error, next time.Duration) {
		log.Info("message not taken; retrying", zap.Error(err), zap.Duration("in", next))
	}))
	if ctx.Err() != nil {
		return false
	}
	s.mu.Lock()
	if err != nil {
		s.messagesFailed++
	} else {
		s.messagesSent++
		rec.Messages++
		rec.Status = m.Type
	}
	s.mu.Unlock()
	if err != nil {
		log.Warn("the hub refused a message", zap.Error(err))
	} else {
		log.Info("message sent")
	}
	return true
}

// hubStatusError is a hub's answer that is not a success.
type hubStatusError struct{ status int }

func (e *hubStatusError) Error() string {
	return fmt.Sprintf("hub answered %d %s", e.status, http.StatusText(e.status))
}

func (s *Server) postMessage(ctx context.Context, endpoint, mediaType string, body []byte) error {
	status, _, _, err := s.hubDo(ctx, http.MethodPost, endpoint, mediaType, body, 0)
	if err != nil {
		return err
	}
	switch {
	case status >= 200 && status < 300:
		return nil
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
		return &hubStatusError{status: status}
	default:
		return backoff.Permanent(&hubStatusError{status: status})
	}
}

// hubDo sends one request to the hub with the hub token and reads at most limit bytes of the
// answer (limit 0: the answer is discarded).
func (s *Server) hubDo(ctx context.Context, method, endpoint, mediaType string, body []byte, limit int64) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("build request to the hub: %w", err)
	}
	if mediaType != "" {
		req.Header.Set("Content-Type", mediaType)
	}
	if token := s.tokenFor(req.URL.Path); token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: %w", method, req.URL.Path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out []byte
	if limit > 0 {
		out, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
		if err != nil {
			return 0, nil, nil, fmt.Errorf("read answer of %s %s: %w", method, req.URL.Path, err)
		}
		if int64(len(out)) > limit {
			return 0, nil, nil, fmt.Errorf("answer of %s %s: over %d bytes", method, req.URL.Path, limit)
		}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header, out, nil
}

var authorityPath = regexp.MustCompile(`^/v1/authorities/([0-9]{8})/`)

// tokenFor returns the hub token of the authority a hub path is about.
func (s *Server) tokenFor(path string) string {
	if m := authorityPath.FindStringSubmatch(path); m != nil {
		if t, ok := s.hubTokens[m[1]]; ok {
			return t
		}
	}
	return s.hubToken
}
