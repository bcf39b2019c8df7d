-- +goose Up
-- Measures of social support as data; see the PostgreSQL migration of the
-- same number for the reasoning.
CREATE TABLE measures (
    tenant_id  TEXT     NOT NULL REFERENCES tenants (id),
    code       TEXT     NOT NULL CHECK (length(code) BETWEEN 2 AND 63 AND code NOT GLOB '*[^a-z0-9_]*' AND substr(code, 1, 1) GLOB '[a-z]'),
    created_at DATETIME NOT NULL,
    PRIMARY KEY (tenant_id, code)
) WITHOUT ROWID;

CREATE TABLE measure_versions (
    tenant_id      TEXT     NOT NULL,
    code           TEXT     NOT NULL,
    number         INTEGER  NOT NULL CHECK (number >= 1),
    status         TEXT     NOT NULL CHECK (status IN ('draft', 'published')),
    effective_from DATE     NOT NULL,
    effective_to   DATE     CHECK (effective_to IS NULL OR effective_to >= effective_from),
    body           TEXT     NOT NULL,
    body_sha256    BLOB     NOT NULL CHECK (length(body_sha256) = 32),
    created_by     TEXT     NOT NULL DEFAULT '',
    created_at     DATETIME NOT NULL,
    updated_at     DATETIME NOT NULL,
    published_by   TEXT     NOT NULL DEFAULT '',
    published_at   DATETIME,
    PRIMARY KEY (tenant_id, code, number),
    FOREIGN KEY (tenant_id, code) REFERENCES measures (tenant_id, code)
) WITHOUT ROWID;

-- +goose StatementBegin
CREATE TRIGGER measure_versions_final_update BEFORE UPDATE ON measure_versions
WHEN OLD.status = 'published'
BEGIN
    SELECT RAISE(ABORT, 'a published measure version cannot change');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER measure_versions_final_delete BEFORE DELETE ON measure_versions
WHEN OLD.status = 'published'
BEGIN
    SELECT RAISE(ABORT, 'a published measure version cannot change');
END;
-- +goose StatementEnd

INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, v4, v5) VALUES
    ('p', 'tenant_admin', '*', 'measure', 'read',     '*', '*'),
    ('p', 'tenant_admin', '*', 'measure', 'write',    '*', '*'),
    ('p', 'tenant_admin', '*', 'measure', 'publish',  '*', '*'),
    ('p', 'tenant_admin', '*', 'measure', 'evaluate', '*', '*'),
    ('p', 'specialist',   '*', 'measure', 'read',     '*', '*'),
    ('p', 'specialist',   '*', 'measure', 'evaluate', '*', '*'),
    ('p', 'approver',     '*', 'measure', 'read',     '*', '*'),
    ('p', 'approver',     '*', 'measure', 'evaluate', '*', '*'),
    ('p', 'integration',  '*', 'measure', 'read',     '*', '*'),
    ('p', 'auditor',      '*', 'measure', 'read',     '*', '*');
UPDATE access_version SET version = version + 1 WHERE id = 1;

-- +goose Down
DELETE FROM casbin_rule WHERE ptype = 'p' AND v1 = '*' AND v2 = 'measure';
UPDATE access_version SET version = version + 1 WHERE id = 1;
DROP TABLE measure_versions;
DROP TABLE measures;
