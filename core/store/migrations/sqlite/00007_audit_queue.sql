-- +goose Up
-- PostgreSQL drops audit_pending's foreign key to tenants here (its check
-- locked the region's row for every audited request). SQLite checks it in
-- process without a lock, so the table stays as it is.
SELECT 1;

-- +goose Down
SELECT 1;
