// Package schemas is the hub's contract: the Go types of the canonical messages (submissions, cases,
// deliveries, authority messages, events), their stable string vocabularies, the problem codes, and
// the embedded JSON Schema files with strict validation. It imports nothing of the hub and, beyond
// the standard library, only the JSON Schema validator (santhosh-tekuri/jsonschema/v6), so every
// other package may depend on it.
package schemas
