package conformance

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"appealhub/adapters"
	"appealhub/schemas"
)

// testDoc is one test document: the delivery and its encoding in the format under test.
type testDoc struct {
	doc  adapters.Document
	body []byte
}

// testSubmission is the built-in test submission, addressed to code: an application with every
// applicant field and one small attachment, marked as a test in its subject and text. With
// largeBytes > 0 it carries a second, large attachment of that many bytes.
func testSubmission(code string, at time.Time, largeBytes int) schemas.Submission {
	note := []byte("Додаток до тестового звернення.\nConformance test attachment.\n")
	sub := schemas.Submission{
		CaseKind:   schemas.CaseAppeal,
		AppealKind: schemas.AppealApplication,
		Applicant: schemas.Applicant{
			Surname: "Перевірочний", Name: "Тест", Patronymic: "Тестович",
			Address: "м. Київ, вул. Тестова, 1", Email: "conformance@example.org", Phone: "+380441234567",
		},
		Addressees: []string{code},
		Subject:    "ТЕСТ: перевірка сумісності системи електронного документообігу",
		Text: "Це тестове звернення набору перевірки сумісності Appeal Hub (appealhub conformance). " +
			"Воно не потребує розгляду по суті.",
		Attachments: []schemas.Attachment{attachment("a-1", "dodatok.txt", "text/plain", note)},
		SubmittedAt: &at,
	}
	if largeBytes > 0 {
		sub.Attachments = append(sub.Attachments, attachment("a-2", "velykyi-dodatok.bin", "application/octet-stream",
			largeContent(largeBytes)))
	}
	return sub
}

func attachment(id, name, mediaType string, content []byte) schemas.Attachment {
	sum := sha256.Sum256(content)
	return schemas.Attachment{ID: id, FileName: name, MediaType: mediaType, Size: int64(len(content)),
		SHA256: hex.EncodeToString(sum[:]), Content: content}
}

// largeContent is n bytes that do not compress (a transport that compresses still moves them all).
func largeContent(n int) []byte {
	r := rand.New(rand.NewChaCha8([32]byte{'a', 'p', 'p', 'e', 'a', 'l', 'h', 'u', 'b'}))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// newDocument builds a test delivery with a fresh delivery id and encodes it with the format's
// adapter.
func (k *kit) newDocument(largeBytes int) (testDoc, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return testDoc{}, fmt.Errorf("new delivery id: %w", err)
	}
	appeal, err := uuid.NewV7()
	if err != nil {
		return testDoc{}, fmt.Errorf("new appeal id: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	k.mu.Lock()
	k.seq++
	seq := k.seq
	k.mu.Unlock()
	sub := testSubmission(k.cfg.Code, now, largeBytes)
	raw, err := json.Marshal(sub)
	if err != nil {
		return testDoc{}, fmt.Errorf("marshal test submission: %w", err)
	}
	doc := adapters.Document{
		DeliveryID:     id.String(),
		AppealID:       appeal.String(),
		TrackingNumber: fmt.Sprintf("ZV-%d-T%07d", now.Year(), seq),
		Authority:      k.cfg.Code,
		Attempt:        1,
		ReceivedAt:     now,
		Submission:     sub,
		Raw:            raw,
	}
	body, err := k.adapter.Encode(doc)
	if err != nil {
		return testDoc{}, fmt.Errorf("encode test document: %w", err)
	}
	return testDoc{doc: doc, body: body}, nil
}
