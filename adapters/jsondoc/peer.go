package jsondoc

import (
	"fmt"

	"appealhub/adapters"
	"appealhub/schemas"
)

// Peer is the authority's side of the JSON format (adapters.Peer).
type Peer struct{}

var _ adapters.Peer = Peer{}

// DecodeDelivery reads a delivery envelope strictly.
func (Peer) DecodeDelivery(mediaType string, body []byte) (adapters.Received, error) {
	if mediaType != "" {
		if err := checkMessageMediaType(mediaType); err != nil {
			return adapters.Received{}, fmt.Errorf("delivery media type: %w", err)
		}
	}
	env, err := DecodeDocument(body)
	if err != nil {
		return adapters.Received{}, err
	}
	sub, err := env.DecodeSubmission()
	if err != nil {
		return adapters.Received{}, fmt.Errorf("%w: %w", ErrInvalidDocument, err)
	}
	return adapters.Received{DeliveryID: env.DeliveryID, Authority: env.Authority,
		TrackingNumber: env.TrackingNumber, Submission: sub}, nil
}

// EncodeReply writes the reply to a push (the JSON reply needs not name the delivery: it answers
// the request it is the response to).
func (Peer) EncodeReply(_ string, r adapters.Reply) (string, []byte) {
	return MediaType, EncodeReply(r)
}

// EncodeMessages writes authority messages as one JSON body.
func (Peer) EncodeMessages(msgs []schemas.AuthorityMessage) (string, []byte, error) {
	return MediaType, EncodeMessages(msgs), nil
}
