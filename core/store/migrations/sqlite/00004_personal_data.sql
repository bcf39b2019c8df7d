-- +goose Up
-- Personal data keys and the audit trail; see the PostgreSQL migration of
-- the same number for the reasoning.
CREATE TABLE tenant_keys (
    tenant_id     TEXT     NOT NULL REFERENCES tenants (id),
    id            TEXT     NOT NULL CHECK (length(id) = 36),
    purpose       TEXT     NOT NULL CHECK (purpose IN ('data', 'index')),
    wrapped       BLOB     NOT NULL CHECK (length(wrapped) > 0),
    master_key_id TEXT     NOT NULL CHECK (length(master_key_id) = 16 AND master_key_id NOT GLOB '*[^0-9a-f]*'),
    created_at    DATETIME NOT NULL,
    retired_at    DATETIME,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX tenant_keys_current ON tenant_keys (tenant_id, purpose) WHERE retired_at IS NULL;

CREATE TABLE audit_pending (
    tenant_id   TEXT     NOT NULL REFERENCES tenants (id),
    id          TEXT     NOT NULL CHECK (length(id) = 36),
    at          DATETIME NOT NULL,
    actor       TEXT     CHECK (actor IS NULL OR length(actor) = 36),
    actor_name  TEXT     NOT NULL DEFAULT '',
    action      TEXT     NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
    object_type TEXT     NOT NULL DEFAULT '',
    object_id   TEXT     NOT NULL DEFAULT '',
    purpose     TEXT     NOT NULL DEFAULT '',
    request_id  TEXT     NOT NULL DEFAULT '',
    outcome     TEXT     NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
    detail      TEXT     NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;

CREATE TABLE audit_records (
    tenant_id   TEXT     NOT NULL REFERENCES tenants (id),
    seq         INTEGER  NOT NULL CHECK (seq > 0),
    at          DATETIME NOT NULL,
    actor       TEXT,
    actor_name  TEXT     NOT NULL DEFAULT '',
    action      TEXT     NOT NULL,
    object_type TEXT     NOT NULL DEFAULT '',
    object_id   TEXT     NOT NULL DEFAULT '',
    purpose     TEXT     NOT NULL DEFAULT '',
    request_id  TEXT     NOT NULL DEFAULT '',
    outcome     TEXT     NOT NULL,
    detail      TEXT     NOT NULL DEFAULT '',
    prev_hash   BLOB     NOT NULL,
    hash        BLOB     NOT NULL,
    PRIMARY KEY (tenant_id, seq)
) WITHOUT ROWID;
CREATE INDEX audit_records_object ON audit_records (tenant_id, object_type, object_id, seq);

CREATE TABLE audit_heads (
    tenant_id  TEXT     NOT NULL REFERENCES tenants (id),
    seq        INTEGER  NOT NULL CHECK (seq >= 0),
    hash       BLOB     NOT NULL,
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (tenant_id)
) WITHOUT ROWID;

-- +goose StatementBegin
CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records
BEGIN
    SELECT RAISE(ABORT, 'audit_records is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records
BEGIN
    SELECT RAISE(ABORT, 'audit_records is append-only');
END;
-- +goose StatementEnd

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
DROP TABLE audit_pending;
DROP TABLE tenant_keys;
