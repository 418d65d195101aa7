// Package receipt issues the hub's signed receipts: evidence, after ETSI EN 319 522 (registered
// electronic delivery), that the hub accepted a submission, delivered it to an authority's document
// system, and saw the authority register it. Anyone holding the hub's CA certificate can check a
// receipt later with standard tools (`openssl cms -verify`). docs/receipts.md is the reference.
//
// # Issuing
//
// A Notary derives receipts from the sealed event chain (internal/audit,
// docs/adr/0004-event-hash-chain.md), never from the stages that write the events: it walks the
// chain after its cursor and, for each link whose event is evidence (submission_accepted,
// delivery_delivered, and authority_registered when it registered the delivery), checks that the
// event still matches its link, builds the receipt content (Content, Canonical JSON naming the
// link) and signs it with the hub Identity as attached CMS SignedData (signature.Sign). Receipts
// and the cursor move are stored in one transaction, so each event gets exactly one receipt. The
// hub runs one Notary per process (Start, Stop); processes take turns through a lock in
// PostgreSQL.
//
// # Identity
//
// LoadIdentity reads the hub's key and certificate chain (configuration identity.signing_key and
// identity.certificate). GenerateIdentity makes a throwaway CA and identity for demos and tests.
// CheckpointSigner signs the event chain's checkpoints with the same identity.
//
// # Verifying
//
// Verifier checks a receipt offline against the hub's CA (`appealhub receipt verify`) and,
// through CheckpointVerifier, the checkpoints' signatures (`appealhub audit verify --ca`).
package receipt
