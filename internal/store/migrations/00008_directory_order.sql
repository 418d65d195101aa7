-- The directory lists active, described authorities ordered by name: an index in that order lets a
-- broad search read only the page it shows instead of sorting every match.

-- +goose Up
CREATE INDEX authorities_directory_order ON authorities (name, code)
    WHERE status = 'active' AND cardinality(accepts) > 0 AND kind <> '';

-- +goose Down
DROP INDEX authorities_directory_order;
