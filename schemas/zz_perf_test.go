package schemas

import ("testing";"encoding/base64";"strings")

func BenchmarkBigTmp(b *testing.B) {
	content := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", 18<<20)))
	body := withMinimalRaw(`"attachments":[{"file_name":"a.bin","media_type":"application/octet-stream","content":"` + content + `"}]`)
	for b.Loop() {
		if _, err := DecodeSubmission(body); err != nil { b.Fatal(err) }
	}
}
