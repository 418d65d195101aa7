package sandbox

import (
	"fmt"
	"mime"
	"strings"

	"appealhub/adapters"
	"appealhub/adapters/jsondoc"
	"appealhub/adapters/sev1207"
)

// Format names the sandbox speaks (Options.Format).
const (
	FormatJSON    = jsondoc.Name // "json", the default
	FormatSEV1207 = sev1207.Name // "sev1207"
)

// Modes of receiving documents (Options.Mode).
const (
	ModePush = "push" // the hub POSTs documents (the default)
	ModePull = "pull" // the sandbox polls the hub's inbox
)

// Defaults of the hub's SEV 1207 identity (Options.HubCode, Options.HubSystemID): the same as the
// hub's own defaults (config identity).
const (
	DefaultHubCode     = "00000000"
	DefaultHubSystemID = "APPEALHUB"
)

// wire is one format as an authority's system speaks it: it reads documents and writes replies and
// messages through the format's adapters.Peer.
type wire struct {
	name      string
	mediaType string
	ext       string
	sev       *sev1207.Adapter // nil for JSON
}

func newWire(o Options) (wire, error) {
	switch o.Format {
	case FormatJSON:
		return wire{name: FormatJSON, mediaType: jsondoc.MediaType, ext: ".json"}, nil
	case FormatSEV1207:
		a := sev1207.New(sev1207.Config{HubCode: o.HubCode, HubSystemID: o.HubSystemID,
			MaxMessageBytes: o.MaxBodyBytes})
		if err := a.Config().Validate(); err != nil {
			return wire{}, fmt.Errorf("sandbox sev1207 identity: %w", err)
		}
		return wire{name: FormatSEV1207, mediaType: sev1207.MediaType, ext: ".xml", sev: a}, nil
	default:
		return wire{}, fmt.Errorf("format %q: must be %q or %q", o.Format, FormatJSON, FormatSEV1207)
	}
}

// peer returns the authority's side of the format for the authority with the given code.
func (w wire) peer(code string) adapters.Peer {
	if w.sev != nil {
		return w.sev.Peer(code)
	}
	return jsondoc.Peer{}
}

// accepts reports whether a document may arrive with Content-Type ct (empty is accepted).
func (w wire) accepts(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	if w.sev != nil {
		return mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml")
	}
	return mt == jsondoc.MediaType
}

// reference is what a reply names as the document it confirms. A 1207 reply is a notice whose
// Acknowledgement names the hub's msg_id, i.e. the delivery id; a JSON reply names the system's
// own id of the document.
func (w wire) reference(deliveryID, own string) string {
	if w.sev != nil {
		return deliveryID
	}
	return own
}

// garbage is the body of a malformed reply: a 2xx that no decoder of either format accepts.
var garbage = []byte("\x00 garbled reply <not a receipt> {\n")
