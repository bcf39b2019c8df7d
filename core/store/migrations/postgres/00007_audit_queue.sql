-- +goose Up
-- audit_pending is a queue of records waiting to be chained, written by
-- every audited request. Its foreign key to tenants made each of those
-- writes lock the region's tenants row FOR KEY SHARE: concurrent readers of
-- one region's cards then shared that row lock through a MultiXact per
-- request. The region is checked where it matters: the record is written
-- under the region's row-level security, and audit_records, which the
-- chainer fills in batches, keeps its foreign key.
ALTER TABLE audit_pending DROP CONSTRAINT audit_pending_tenant_id_fkey;

-- +goose Down
ALTER TABLE audit_pending ADD CONSTRAINT audit_pending_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id);
