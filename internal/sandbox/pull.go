package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"go.uber.org/zap"
)

// pullLoop polls the hub's inbox every Poll until the sandbox closes.
func (s *Server) pullLoop() {
	defer s.wg.Done()
	s.logger.Info("polling the hub's inbox", zap.String("authority", s.code), zap.Duration("every", s.poll))
	failing := false
	for {
		err := s.pullOnce(s.ctx)
		switch {
		case err != nil && !failing && s.ctx.Err() == nil:
			s.logger.Warn("cannot list the hub's inbox; retrying every poll", zap.Error(err))
			failing = true
		case err == nil && failing:
			s.logger.Info("listing the hub's inbox again")
			failing = false
		}
		if !sleepCtx(s.ctx, s.poll) {
			return
		}
	}
}

// pullOnce lists the inbox once and takes in every item listed: fetch, record, acknowledge. It
// fails only when the inbox cannot be listed.
func (s *Server) pullOnce(ctx context.Context) error {
	inbox := s.hub + "/v1/authorities/" + url.PathEscape(s.code) + "/inbox"
	status, _, body, err := s.hubDo(ctx, http.MethodGet, inbox+"?limit="+strconv.Itoa(pullLimit), "", nil, 4<<20)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return &hubStatusError{status: status}
	}
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return fmt.Errorf("list the inbox: unreadable answer: %w", err)
	}
	for _, it := range page.Items {
		if ctx.Err() != nil {
			return nil
		}
		if !deliveryIDPattern.MatchString(it.ID) {
			s.logger.Warn("inbox item with an unusable id: skipped")
			continue
		}
		s.take(ctx, inbox, it.ID)
	}
	return nil
}

// take fetches one inbox item, records it and acknowledges it. An item that cannot be read is not
// acknowledged (the hub offers it again after its visibility timeout).
func (s *Server) take(ctx context.Context, inbox, id string) {
	log := s.logger.With(zap.String("delivery_id", id))
	s.mu.Lock()
	s.requests++
	opts := s.opts
	s.mu.Unlock()
	refused := func(msg string, fields ...zap.Field) {
		s.mu.Lock()
		s.refused++
		s.mu.Unlock()
		log.Warn(msg, fields...)
	}

	item := inbox + "/" + url.PathEscape(id)
	status, header, body, err := s.hubDo(ctx, http.MethodGet, item, "", nil, opts.MaxBodyBytes)
	if err != nil || status != http.StatusOK {
		if ctx.Err() == nil {
			refused("fetch inbox item", zap.Int("status", status), zap.Error(err))
		}
		return
	}
	got, err := s.wire.peer(s.code).DecodeDelivery(header.Get("Content-Type"), body)
	if err != nil {
		refused("inbox item is not a readable document", zap.Error(err))
		return
	}
	if got.DeliveryID != id || (header.Get("Idempotency-Key") != "" && header.Get("Idempotency-Key") != id) {
		refused("inbox item: delivery id differs from the item id")
		return
	}
	if got.Authority != "" && got.Authority != s.code {
		refused("inbox item is addressed to another authority")
		return
	}
	rec, created, err := s.record(got, s.code, body, opts)
	if err != nil {
		log.Error("store document", zap.Error(err))
		return
	}
	if created {
		log.Info("document recorded", zap.String("registration_number", rec.RegistrationNumber))
	} else {
		log.Info("duplicate delivery", zap.Int("received", rec.Received))
	}
	status, _, _, err = s.hubDo(ctx, http.MethodPost, item+"/ack", "", nil, 0)
	if err != nil || status/100 != 2 {
		if ctx.Err() == nil {
			log.Warn("acknowledge inbox item", zap.Int("status", status), zap.Error(err))
		}
		return
	}
	log.Info("inbox item acknowledged")
}
