-- An authority's system may require a client certificate (mTLS): the registry names which of the
-- hub's configured TLS clients to present. The certificate itself never enters the database.

-- +goose Up
ALTER TABLE authorities ADD COLUMN tls_client text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE authorities DROP COLUMN tls_client;
