package receipt

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// FuzzCanonicalize: any JSON document either is refused (a number that is no integer) or becomes
// canonical JSON that decodes to the same value and stays as it is when canonicalized again.
func FuzzCanonicalize(f *testing.F) {
	for _, seed := range []string{
		`{"b":1,"a":[true,false,null,"x"]}`, `"\u0001\t\"\\<>&\u2028é"`, `{"é":{"z":-12,"a":""}}`, `[1.5]`, `1e3`,
		`{"a":1,"a":2}`, "\"\xff\"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return
		}
		out, err := canonicalize(raw)
		if err != nil {
			return
		}
		var a, b any
		if json.Unmarshal(raw, &a) != nil || json.Unmarshal(out, &b) != nil {
			t.Fatalf("canonical %q of %q does not decode", out, raw)
		}
		if !reflect.DeepEqual(a, b) { // -0 and 0 are one integer
			t.Fatalf("canonical %q of %q is another value", out, raw)
		}
		again, err := canonicalize(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("canonicalizing %q again gives %q, %v", out, again, err)
		}
	})
}

// FuzzVerify: whatever the bytes, Verify answers without panicking, and what it accepts is a
// receipt the seed identity signed.
func FuzzVerify(f *testing.F) {
	files, err := GenerateIdentity(f.TempDir(), "Fuzz")
	if err != nil {
		f.Fatal(err)
	}
	id, err := LoadIdentity(files.Key, files.Certificate)
	if err != nil {
		f.Fatal(err)
	}
	content, err := Canonical(Content{Format: Format, ID: "r", TrackingNumber: "ZV-2026-00000001"})
	if err != nil {
		f.Fatal(err)
	}
	cms, err := id.Sign(content, time.Now(), false)
	if err != nil {
		f.Fatal(err)
	}
	v, err := NewVerifierFromFile(files.CA)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cms)
	f.Add([]byte("-----BEGIN CMS-----\nMAA=\n-----END CMS-----\n"))
	f.Add(cms[:len(cms)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := v.Verify(context.Background(), data, time.Time{})
		if err != nil {
			return
		}
		if got.Receipt.Format != Format || got.Signer.CertificateSHA256 != id.CertificateSHA256() {
			t.Fatalf("accepted %x as %+v", data, got)
		}
	})
}
