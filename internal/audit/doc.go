// Package audit makes the case timeline (the events table) tamper-evident: it seals every event
// into a hash chain, records signed checkpoints of the chain head, and verifies the whole chain.
// The design and its reasons are in docs/adr/0004-event-hash-chain.md.
//
// # Sealing
//
// A Sealer adds one link per event, in the order of the inserting transaction's id and then the
// event's seq: hash = SHA-256(prev_hash ‖ Canonical(event)), the first link having no prev_hash.
// It seals only events whose transaction ended before the oldest transaction still running began,
// so an event can never commit in front of one already sealed, and it never waits for an event
// that was rolled back. The hub runs one Sealer per process (Start, Stop); the processes take
// turns through a lock in PostgreSQL, so there is one chain however many run.
//
// # Checkpoints
//
// Every CheckpointInterval the Sealer records the chain head (position, seq, hash), signed by the
// configured Signer (unsigned without one), and logs it: a tail deleted together with its links is
// caught against the last checkpoint. Sealer.Checkpoint records one on demand.
//
// # Verifying
//
// Verify walks the chain from one database snapshot and reports every broken link in chain order,
// each with a stable Kind: an event changed, missing, swapped with another or inserted behind the
// head; a link changed or missing; the tail cut; a checkpoint that disagrees with the chain or whose
// signature does not verify. `appealhub audit verify` prints the report.
package audit
