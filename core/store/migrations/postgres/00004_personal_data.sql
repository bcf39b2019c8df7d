-- +goose Up
-- Personal data protection (core/pdcrypt): each region's data keys, wrapped
-- (AES-256-GCM) by the platform's master key. A 'data' key encrypts personal
-- data; the 'index' key computes blind indexes (HMAC-SHA-256) for exact
-- look-ups. A region has at most one current key per purpose; a retired data
-- key still decrypts what it encrypted. master_key_id is the fingerprint of
-- the master key that wrapped the row (rotation rewraps, see
-- docs/personal-data.md).
CREATE TABLE tenant_keys (
    tenant_id     uuid        NOT NULL REFERENCES tenants (id),
    id            uuid        NOT NULL,
    purpose       text        NOT NULL CHECK (purpose IN ('data', 'index')),
    wrapped       bytea       NOT NULL CHECK (octet_length(wrapped) > 0),
    master_key_id text        NOT NULL CHECK (master_key_id ~ '^[0-9a-f]{16}$'),
    created_at    timestamptz NOT NULL,
    retired_at    timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX tenant_keys_current ON tenant_keys (tenant_id, purpose) WHERE retired_at IS NULL;

ALTER TABLE tenant_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_keys
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- The audit trail (core/audit, docs/audit.md). A request's transaction
-- writes its records to audit_pending, a table no one else's transaction
-- touches, so appends never wait for each other; the chainer moves committed
-- pending records into audit_records in batches, giving each the next seq of
-- its region and hash = SHA-256(prev_hash || canonical record), and keeps
-- the region's last (seq, hash) in audit_heads.
CREATE TABLE audit_pending (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id),
    id          uuid        NOT NULL,
    at          timestamptz NOT NULL,
    actor       uuid,
    actor_name  text        NOT NULL DEFAULT '',
    action      text        NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
    object_type text        NOT NULL DEFAULT '',
    object_id   text        NOT NULL DEFAULT '',
    purpose     text        NOT NULL DEFAULT '',
    request_id  text        NOT NULL DEFAULT '',
    outcome     text        NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
    detail      text        NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE audit_records (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id),
    seq         bigint      NOT NULL CHECK (seq > 0),
    at          timestamptz NOT NULL,
    actor       uuid,
    actor_name  text        NOT NULL DEFAULT '',
    action      text        NOT NULL,
    object_type text        NOT NULL DEFAULT '',
    object_id   text        NOT NULL DEFAULT '',
    purpose     text        NOT NULL DEFAULT '',
    request_id  text        NOT NULL DEFAULT '',
    outcome     text        NOT NULL,
    detail      text        NOT NULL DEFAULT '',
    prev_hash   bytea       NOT NULL,
    hash        bytea       NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_records_object ON audit_records (tenant_id, object_type, object_id, seq);

CREATE TABLE audit_heads (
    tenant_id  uuid        NOT NULL REFERENCES tenants (id),
    seq        bigint      NOT NULL CHECK (seq >= 0),
    hash       bytea       NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id)
);

-- Append-only: no role changes or removes a chained record through SQL
-- (a table owner could drop the trigger; the hash chain still shows it).
-- +goose StatementBegin
CREATE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_records is append-only';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();

ALTER TABLE audit_pending ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_pending FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_pending
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
ALTER TABLE audit_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_records FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_records
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
ALTER TABLE audit_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_heads
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- Who reads the trail: the region's auditor and administrator, and the
-- federal operator's auditor.
INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, v4, v5) VALUES
    ('p', 'tenant_admin',    '*', 'audit', 'read', '*', '*'),
    ('p', 'auditor',         '*', 'audit', 'read', '*', '*'),
    ('p', 'federal_auditor', '*', 'audit', 'read', '*', '*');
UPDATE access_version SET version = version + 1 WHERE id = 1;

-- +goose Down
DELETE FROM casbin_rule WHERE ptype = 'p' AND v1 = '*' AND v2 = 'audit' AND v3 = 'read'
    AND v0 IN ('tenant_admin', 'auditor', 'federal_auditor');
UPDATE access_version SET version = version + 1 WHERE id = 1;
DROP TABLE audit_heads;
DROP TABLE audit_records;
DROP FUNCTION audit_records_append_only();
DROP TABLE audit_pending;
DROP TABLE tenant_keys;
