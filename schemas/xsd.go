package schemas

import (
	"bytes"
	_ "embed"
)

//go:embed sev1207.xsd
var sev1207XSD []byte

// SEV1207XSD returns a copy of the embedded XML Schema of SEV OVV format 1207 v1.5 as the hub
// writes and reads it (schemas/sev1207.xsd).
func SEV1207XSD() []byte {
	return bytes.Clone(sev1207XSD)
}
