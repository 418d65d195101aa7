-- The signatures intake verified, with their signers' facts (docs/signatures.md), stored with the
-- case in the same transaction and never changed: the evidence of who signed what, as established
-- when the hub received it. A row per verified signature, keyed by the case, the signed part
-- ("text" or an attachment id) and the signature's position in the submission (a collective appeal
-- may carry several signatures of its text). subject, issuer and tax_number are personal data.

-- +goose Up
CREATE TABLE case_signatures (
    appeal_id            uuid NOT NULL REFERENCES appeals (id),
    of                   text NOT NULL,
    signature_index      integer NOT NULL CHECK (signature_index >= 0),
    format               text NOT NULL,
    subject              text NOT NULL,
    issuer               text NOT NULL,
    serial_number        text NOT NULL,
    not_before           timestamptz NOT NULL,
    not_after            timestamptz NOT NULL,
    tax_number           text NOT NULL DEFAULT '',
    digest_algorithm     text NOT NULL,
    signature_algorithm  text NOT NULL,
    certificate_sha256   text NOT NULL,
    claimed_signing_time timestamptz,
    revocation           text NOT NULL CHECK (revocation IN ('good', 'unchecked')),
    verified_at          timestamptz NOT NULL,
    PRIMARY KEY (appeal_id, of, signature_index),
    UNIQUE (appeal_id, signature_index)
);

-- +goose Down
DROP TABLE case_signatures;
