package router

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"appealhub/config"
	"appealhub/internal/audit"
	"appealhub/internal/clock"
	"appealhub/internal/httpapi"
	"appealhub/internal/receipt"
	"appealhub/internal/store"
	"appealhub/schemas"
)

// Compile-time checks of the hub-signed receipts' ports.
var (
	_ receipt.Ledger        = (*store.Store)(nil)
	_ httpapi.ReceiptReader = (*Hub)(nil)
)

// newNotary builds the notary of the hub-signed receipts and, when the configuration names the
// hub's signing identity, the signer of the event chain's checkpoints (nil without one: the notary
// then issues nothing and says so when it starts).
func newNotary(cfg config.Config, st *store.Store, c clock.Clock, logger *zap.Logger) (*receipt.Notary, audit.Signer, error) {
	var id *receipt.Identity
	var signer audit.Signer
	if cfg.Identity.SigningKey != "" || cfg.Identity.Certificate != "" {
		var err error
		if id, err = receipt.LoadIdentity(cfg.Identity.SigningKey, cfg.Identity.Certificate); err != nil {
			return nil, nil, fmt.Errorf("load the hub identity: %w", err)
		}
		signer = receipt.NewCheckpointSigner(id, c)
	}
	n := receipt.NewNotary(st, id, receipt.Config{
		Hub:      receipt.Hub{Code: cfg.Identity.Code, Name: cfg.Identity.Name, SystemID: cfg.Identity.SystemID},
		Interval: cfg.Audit.SealInterval, Clock: c,
	}, logger)
	return n, signer, nil
}

// Receipts returns the hub-signed receipts of a case the client submitted; any other id is
// not_found.
func (h *Hub) Receipts(ctx context.Context, clientID, appealID string) ([]schemas.SignedReceipt, error) {
	if _, err := uuid.Parse(appealID); err != nil {
		return nil, schemas.Errorf(schemas.CodeNotFound, "no such case")
	}
	list, err := h.store.Receipts(ctx, clientID, appealID)
	if err != nil {
		return nil, receiptError("case", err)
	}
	return list, nil
}

// Receipt returns one hub-signed receipt of a case the client submitted; any other id is
// not_found.
func (h *Hub) Receipt(ctx context.Context, clientID, appealID, receiptID string) (schemas.SignedReceipt, error) {
	if _, err := uuid.Parse(appealID); err != nil {
		return schemas.SignedReceipt{}, schemas.Errorf(schemas.CodeNotFound, "no such case")
	}
	if _, err := uuid.Parse(receiptID); err != nil {
		return schemas.SignedReceipt{}, schemas.Errorf(schemas.CodeNotFound, "no such receipt")
	}
	r, err := h.store.Receipt(ctx, clientID, appealID, receiptID)
	if err != nil {
		return schemas.SignedReceipt{}, receiptError("receipt", err)
	}
	return r, nil
}

func receiptError(what string, err error) error {
	if errors.Is(err, schemas.ErrNotFound) {
		return schemas.Errorf(schemas.CodeNotFound, "no such %s", what)
	}
	return fmt.Errorf("read receipts: %w: %w", schemas.ErrUnavailable, err)
}
