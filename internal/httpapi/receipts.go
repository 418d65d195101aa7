package httpapi

// The hub's signed receipts of a case (docs/receipts.md), for the portal that submitted it:
// GET /v1/appeals/{id}/receipts lists them; GET /v1/appeals/{id}/receipts/{rid} answers one as
// JSON, or its raw DER CMS with Accept: application/pkcs7-mime.

import (
	"context"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"appealhub/schemas"
)

// PKCS7MediaType is the media type of a receipt's CMS (RFC 8551), asked for with Accept.
const PKCS7MediaType = "application/pkcs7-mime"

// ReceiptReader returns the hub-signed receipts of a case as its submitting client sees them. A
// case that does not exist or belongs to another client, and a receipt that is not the case's,
// are a *schemas.Error with code not_found; a case without receipts yet has an empty list. It is
// called concurrently; an error wrapping schemas.ErrUnavailable is answered 503.
type ReceiptReader interface {
	Receipts(ctx context.Context, clientID, appealID string) ([]schemas.SignedReceipt, error)
	Receipt(ctx context.Context, clientID, appealID, receiptID string) (schemas.SignedReceipt, error)
}

// registerReceipts adds the receipt routes (called by NewHandler when Deps.Receipts is set).
func (h *handler) registerReceipts() {
	h.mux.HandleFunc("GET /v1/appeals/{id}/receipts", h.listReceipts)
	h.mux.HandleFunc("GET /v1/appeals/{id}/receipts/{rid}", h.getReceipt)
}

// receiptCase authenticates the portal and checks the case id, answering refusals itself.
func (h *handler) receiptCase(w http.ResponseWriter, r *http.Request) (Principal, string, bool) {
	p, ok := h.authenticatePortal(w, r)
	if !ok {
		return Principal{}, "", false
	}
	id := r.PathValue("id")
	if !saneCaseID(id) {
		writeProblem(w, r, schemas.CodeNotFound, "no such case", nil)
		return Principal{}, "", false
	}
	return p, id, true
}

// listReceipts is GET /v1/appeals/{id}/receipts.
func (h *handler) listReceipts(w http.ResponseWriter, r *http.Request) {
	p, id, ok := h.receiptCase(w, r)
	if !ok {
		return
	}
	list, err := h.deps.Receipts.Receipts(r.Context(), p.ClientID, id)
	if err != nil {
		h.writeError(w, r, "read receipts", err)
		return
	}
	writeJSON(w, http.StatusOK, "application/json", struct {
		Receipts []schemas.SignedReceipt `json:"receipts"`
	}{list})
}

// getReceipt is GET /v1/appeals/{id}/receipts/{rid}.
func (h *handler) getReceipt(w http.ResponseWriter, r *http.Request) {
	p, id, ok := h.receiptCase(w, r)
	if !ok {
		return
	}
	rid := r.PathValue("rid")
	if !saneCaseID(rid) {
		writeProblem(w, r, schemas.CodeNotFound, "no such receipt", nil)
		return
	}
	rec, err := h.deps.Receipts.Receipt(r.Context(), p.ClientID, id, rid)
	if err != nil {
		h.writeError(w, r, "read receipt", err)
		return
	}
	if !wantsPKCS7(r.Header.Values("Accept")) {
		writeJSON(w, http.StatusOK, "application/json", rec)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", PKCS7MediaType+"; smime-type=signed-data")
	hd.Set("Content-Disposition", `attachment; filename="`+rid+`.p7s"`)
	hd.Set("Content-Length", strconv.Itoa(len(rec.CMS)))
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(rec.CMS)
}

// wantsPKCS7 reports whether the Accept header values name application/pkcs7-mime with a non-zero
// quality at least that of JSON; anything else gets JSON.
func wantsPKCS7(accept []string) bool {
	pkcs7, json := -1.0, -1.0
	for _, v := range accept {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			q := 1.0
			if s, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(s, 64); err == nil {
					q = f
				}
			}
			switch mt {
			case PKCS7MediaType:
				pkcs7 = max(pkcs7, q)
			case "application/json":
				json = max(json, q)
			}
		}
	}
	return pkcs7 > 0 && pkcs7 >= json
}
