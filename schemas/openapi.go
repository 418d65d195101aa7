package schemas

import (
	"bytes"
	_ "embed"
)

//go:embed openapi.yaml
var openAPIYAML []byte

// OpenAPI returns a copy of the embedded OpenAPI 3.0.3 document of the hub's HTTP API
// (schemas/openapi.yaml): the portal, authority and operations endpoints, the push contract the hub
// follows against an authority's system (the deliveryPush callback), and the problem codes.
func OpenAPI() []byte {
	return bytes.Clone(openAPIYAML)
}
