-- The large values the hub writes for every case (the signed submission, each receipt's content and
-- CMS, an authority's message) are compressed with lz4 instead of pglz when the server was built
-- with it: pglz took 3 % of PostgreSQL's CPU under load (docs/performance.md), lz4 a fraction of
-- that for a similar ratio on JSON and base64. Only values written from now on use it; a server
-- without lz4 keeps pglz.

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE appeals ALTER COLUMN body SET COMPRESSION lz4;
        ALTER TABLE receipts ALTER COLUMN content SET COMPRESSION lz4;
        ALTER TABLE receipts ALTER COLUMN cms SET COMPRESSION lz4;
        ALTER TABLE authority_messages ALTER COLUMN message SET COMPRESSION lz4;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
ALTER TABLE authority_messages ALTER COLUMN message SET COMPRESSION default;
ALTER TABLE receipts ALTER COLUMN cms SET COMPRESSION default;
ALTER TABLE receipts ALTER COLUMN content SET COMPRESSION default;
ALTER TABLE appeals ALTER COLUMN body SET COMPRESSION default;
