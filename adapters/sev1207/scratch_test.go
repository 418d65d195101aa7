package sev1207_test

import (
	"os"
	"testing"
)

func TestScratch(t *testing.T) {
	out, err := newAdapter().Encode(testDocument())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile("/tmp/sev-out.xml", out, 0o644)
}
