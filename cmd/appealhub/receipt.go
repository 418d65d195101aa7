package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"appealhub/config"
	"appealhub/internal/receipt"
	"appealhub/schemas"
)

// errReceiptInvalid makes `appealhub receipt verify` exit 1 after it said why.
var errReceiptInvalid = errors.New("the receipt is invalid")

func newReceiptCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "receipt",
		Short: "Check the hub's signed receipts offline (no database or running hub needed)",
	}
	cmd.AddCommand(newReceiptVerifyCommand())
	return cmd
}

func newReceiptVerifyCommand() *cobra.Command {
	var caFile, at string
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Verify a hub-signed receipt (CMS, DER or PEM) against the hub's CA, print its content; exit 1 when invalid",
		Long: `Verify a receipt as the portal got it (GET /v1/appeals/{id}/receipts/{rid} with
Accept: application/pkcs7-mime, or the base64 "cms" of the JSON decoded): the CMS signature, the hub
certificate's chain to the CA of --ca and its validity now (or at --at), and that the content is a
receipt. Prints the content and "valid", or "invalid" and why (exit 1). OpenSSL checks the same file
with: openssl cms -verify -inform DER -in FILE -CAfile hub-ca.pem -purpose any`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			caPEM, err := receiptCA(cmd, caFile)
			if err != nil {
				return err
			}
			var when time.Time
			if at != "" {
				if when, err = time.Parse(time.RFC3339, at); err != nil {
					return fmt.Errorf("--at: %w", err)
				}
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("read receipt: %w", err)
			}
			return verifyReceipt(cmd.Context(), cmd.OutOrStdout(), data, caPEM, when)
		},
	}
	cmd.Flags().StringVar(&caFile, "ca", "", "PEM file of the hub's CA certificate(s), e.g. hub-ca.pem (default: the CA certificates in identity.certificate)")
	cmd.Flags().StringVar(&at, "at", "", "verify as of this RFC 3339 time instead of now (the certificate may have expired since)")
	configFlags(cmd, "identity.certificate")
	return cmd
}

// receiptCA returns the PEM of the CAs to trust: the file of --ca, else the CA certificates of the
// configured identity.certificate.
func receiptCA(cmd *cobra.Command, caFile string) ([]byte, error) {
	if caFile != "" {
		data, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		return data, nil
	}
	// Only identity.certificate is read: the rest of the configuration need not be valid here.
	path, _ := cmd.Flags().GetString("config")
	cfg, err := config.Load(path, cmd.Flags())
	if err != nil {
		return nil, err
	}
	if cfg.Identity.Certificate == "" {
		return nil, errors.New("give the hub's CA certificate with --ca (no identity.certificate is configured)")
	}
	data, err := os.ReadFile(cfg.Identity.Certificate)
	if err != nil {
		return nil, fmt.Errorf("identity.certificate: %w", err)
	}
	var cas []byte
	for rest := data; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if c, err := x509.ParseCertificate(block.Bytes); err == nil && block.Type == "CERTIFICATE" && c.IsCA {
			cas = append(cas, pem.EncodeToMemory(block)...)
		}
	}
	if cas == nil {
		return nil, fmt.Errorf("identity.certificate %s holds no CA certificate: give the hub's CA with --ca", cfg.Identity.Certificate)
	}
	return cas, nil
}

// verifyReceipt verifies data, prints the content and the verdict to w, and returns
// errReceiptInvalid when the receipt is invalid.
func verifyReceipt(ctx context.Context, w io.Writer, data, caPEM []byte, at time.Time) error {
	v, err := receipt.NewVerifier(caPEM)
	if err != nil {
		return err
	}
	got, err := v.Verify(ctx, data, at)
	if errors.Is(err, receipt.ErrInvalid) {
		fmt.Fprintf(w, "invalid: %v\n", err)
		return errReceiptInvalid
	}
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got.Content, "", "  "); err != nil {
		return fmt.Errorf("print receipt: %w", err)
	}
	fmt.Fprintln(w, pretty.String())
	c, s := got.Receipt, got.Signer
	fmt.Fprintf(w, "valid: %s receipt %s of %s, signed by %s (certificate SHA-256 %s) at %s\n",
		c.Evidence, c.ID, c.TrackingNumber, s.Subject, s.CertificateSHA256, s.ClaimedSigningTime.UTC().Format(time.RFC3339))
	return nil
}

// demoIdentity gives the demo hub a signing identity for its receipts: the configured one, or a
// throwaway one kept in dataDir/identity (so that receipts of earlier runs keep verifying). It
// returns the CA file to verify receipts with ("" when the configured identity's CA is unknown).
func demoIdentity(cfg *config.Config, dataDir string) (string, error) {
	if cfg.Identity.SigningKey != "" {
		return "", nil
	}
	files, err := receipt.GenerateIdentity(filepath.Join(dataDir, "identity"), cfg.Identity.Name)
	if err != nil {
		return "", err
	}
	cfg.Identity.SigningKey, cfg.Identity.Certificate = files.Key, files.Certificate
	return files.CA, nil
}

// printReceiptHint tells the demo's user where the signed receipts of the first case are and how
// to check one with OpenSSL.
func printReceiptHint(ctx context.Context, w io.Writer, base, token string, cases []schemas.Receipt, caFile string) {
	if len(cases) == 0 {
		return
	}
	if caFile == "" {
		caFile = "hub-ca.pem"
	}
	path := "/v1/appeals/" + cases[0].ID + "/receipts"
	rid := "{rid}"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err == nil {
		req.Header.Set("Authorization", "Bearer "+token)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			var page struct {
				Receipts []struct {
					ID string `json:"id"`
				} `json:"receipts"`
			}
			if json.NewDecoder(resp.Body).Decode(&page) == nil && len(page.Receipts) > 0 {
				rid = page.Receipts[0].ID
			}
			_ = resp.Body.Close()
		}
	}
	fmt.Fprintf(w, "\nSigned receipts: %s%s; the hub's CA is %s. Check one offline:\n", base, path, caFile)
	fmt.Fprintf(w, "  curl -s -H 'Authorization: Bearer %s' -H 'Accept: application/pkcs7-mime' %s%s/%s > receipt.p7s\n", token, base, path, rid)
	fmt.Fprintf(w, "  openssl cms -verify -inform DER -in receipt.p7s -CAfile %s -purpose any\n", caFile)
	fmt.Fprintf(w, "  appealhub receipt verify receipt.p7s --ca %s\n", caFile)
}
