// Package schemas is the hub's contract: the Go types of the canonical messages (submissions, cases,
// deliveries, authority messages, events), their stable string vocabularies, and the embedded JSON
// Schema files with strict validation. It imports the standard library only, so every other package
// may depend on it.
package schemas
