package bench

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
)

// attachmentOver is the body size from which Body carries a scanned document as an attachment
// instead of a longer text, as large real submissions do.
const attachmentOver = 4 << 10

// words make the appeal text: Ukrainian, two bytes a letter in UTF-8, as real texts are.
var words = strings.Fields(`звернення прошу розглянути питання щодо ремонту дороги біля будинку
освітлення вулиці водопостачання опалення дитячого майданчика громади міської ради управління
житлово комунального господарства у зв'язку з тим що протягом року мешканці неодноразово
зверталися але відповіді не отримали просимо вжити заходів та повідомити про результати`)

// Body returns the n-th valid submission to addressee, of size bytes (within a few bytes; at
// least about 400). The content is pseudo-random and deterministic in n. Up to 4 KiB it is an appeal
// text; above, a short text plus a PDF-like attachment of random bytes (with its size and sha256),
// which neither PostgreSQL's TOAST compression nor anything else can shrink: a body of 64 KiB costs
// 64 KiB wherever it is written.
func Body(n, size int, addressee string) []byte {
	rng := rand.New(rand.NewPCG(uint64(n), 0x61707065616c))
	sub := map[string]any{
		"case_kind":   "appeal",
		"appeal_kind": "complaint",
		"applicant": map[string]any{"surname": "Тестенко", "name": "Марія", "patronymic": "Іванівна",
			"email": "m.testenko@example.org", "address": "м. Київ, вул. Хрещатик, 1"},
		"addressees":           []string{addressee},
		"subject":              fmt.Sprintf("Звернення %d щодо благоустрою", n),
		"portal_submission_id": fmt.Sprintf("bench-%d", n),
		"text":                 "",
	}
	textSize := size
	var attachment map[string]any
	if size > attachmentOver {
		textSize = 2 << 10
		attachment = map[string]any{"id": "scan-1", "file_name": "scan.pdf", "media_type": "application/pdf",
			"size": 0, "sha256": strings.Repeat("0", 64), "content": ""}
		sub["attachments"] = []any{attachment}
	}
	sub["text"] = text(rng, max(textSize-overhead(sub), 1))
	if attachment != nil {
		room := size - overhead(sub) - len(fmt.Sprint(size)) // the size field grows from "0"
		content := make([]byte, max(room, 4)/4*3)
		var seed [32]byte
		binary.LittleEndian.PutUint64(seed[:], uint64(n))
		_, _ = rand.NewChaCha8(seed).Read(content)
		sum := sha256.Sum256(content)
		attachment["content"] = base64.StdEncoding.EncodeToString(content)
		attachment["size"] = len(content)
		attachment["sha256"] = hex.EncodeToString(sum[:])
	}
	b, err := json.Marshal(sub)
	if err != nil {
		panic(fmt.Sprintf("bench: marshal submission: %v", err)) // a map of strings always marshals
	}
	return b
}

// overhead is the size of sub's JSON with its current text and attachment content.
func overhead(sub map[string]any) int {
	b, _ := json.Marshal(sub)
	return len(b)
}

// text returns words in random order, exactly size bytes long (ASCII dots fill the last bytes).
func text(rng *rand.Rand, size int) string {
	var sb strings.Builder
	for {
		w := words[rng.IntN(len(words))]
		if sb.Len()+len(w)+1 > size {
			break
		}
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(w)
	}
	sb.WriteString(strings.Repeat(".", size-sb.Len()))
	return sb.String()
}
