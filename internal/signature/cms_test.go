package signature

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/signature/signaturetest"
)

// TestParseSigningTime accepts only the DER forms of RFC 5652 11.3.
func TestParseSigningTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		der  string
		want time.Time // zero: refused
	}{
		{name: "UTCTime", der: "\x17\x0d260102030405Z", want: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		{name: "UTCTime 1950", der: "\x17\x0d500102030405Z", want: time.Date(1950, 1, 2, 3, 4, 5, 0, time.UTC)},
		{name: "GeneralizedTime 2050", der: "\x18\x0f20500102030405Z", want: time.Date(2050, 1, 2, 3, 4, 5, 0, time.UTC)},
		{name: "UTCTime without seconds", der: "\x17\x0b2601020304Z"},
		{name: "UTCTime with offset", der: "\x17\x11260102030405+0200"},
		{name: "UTCTime without Z", der: "\x17\x0c260102030405"},
		{name: "UTCTime day 32", der: "\x17\x0d260132030405Z"},
		{name: "GeneralizedTime for 2026", der: "\x18\x0f20260102030405Z"},
		{name: "GeneralizedTime with fraction", der: "\x18\x1120500102030405.1Z"},
		{name: "not a time", der: "\x04\x0d260102030405Z"},
		{name: "trailing data", der: "\x17\x0d260102030405Z\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseSigningTime([]byte(tt.der))
			if tt.want.IsZero() {
				require.NotNil(t, err)
				require.Equal(t, CodeSignatureMalformed, err.Code)
				return
			}
			require.Nil(t, err)
			require.True(t, tt.want.Equal(got), "%s", got)
		})
	}
}

// TestIsDERSet checks the DER order of SET OF elements.
func TestIsDERSet(t *testing.T) {
	t.Parallel()
	a, b := []byte{0x02, 0x01, 0x01}, []byte{0x02, 0x01, 0x02}
	long := []byte{0x04, 0x02, 0x00, 0x00}
	require.True(t, isDERSet(nil))
	require.True(t, isDERSet(append(append([]byte{}, a...), b...)))
	require.False(t, isDERSet(append(append([]byte{}, b...), a...)))
	require.True(t, isDERSet(append(append([]byte{}, a...), long...)))
	require.False(t, isDERSet([]byte{0x02, 0x81, 0x01, 0x01}), "non-minimal length")
	require.False(t, isDERSet([]byte{0x30, 0x80, 0x00, 0x00}), "indefinite length")
}

// TestTaxNumber reads the РНОКПП from the subject serialNumber or the DRFO attribute.
func TestTaxNumber(t *testing.T) {
	t.Parallel()
	p := signaturetest.Shared(t)
	require.Equal(t, "1234567890", taxNumber(p.Cert(t, "rsa")), "subject serialNumber TINUA-")
	require.Equal(t, "3456789012", taxNumber(p.Cert(t, "ec384")), "SubjectDirectoryAttributes DRFO")
	require.Empty(t, taxNumber(p.Cert(t, "tls")))
	require.Empty(t, drfoAttribute([]byte{0x30, 0x00, 0x00}))
	require.False(t, isTaxNumber("TINUA-1234"))
	require.False(t, isTaxNumber("123456789a"))
}
