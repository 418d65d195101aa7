package signature

import (
	"context"
	"testing"
)

// BenchmarkVerify verifies one detached signature over a 64 KiB document per iteration.
func BenchmarkVerify(b *testing.B) {
	content := make([]byte, 64<<10)
	for _, bb := range []struct {
		name string
		pki  func(testing.TB) *goPKI
	}{{"ecdsa-p256", newECDSAGoPKI}, {"rsa-2048", newRSAGoPKI}} {
		b.Run(bb.name, func(b *testing.B) {
			g := bb.pki(b)
			v := g.verifier(b)
			sig := g.sign(b, content, Detached())
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, sig, content, g.at); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSign signs one 1 KiB receipt per iteration with an ECDSA P-256 key.
func BenchmarkSign(b *testing.B) {
	g := newECDSAGoPKI(b)
	content := make([]byte, 1<<10)
	for b.Loop() {
		if _, err := Sign(content, g.key, g.leaf, nil, g.at); err != nil {
			b.Fatal(err)
		}
	}
}
