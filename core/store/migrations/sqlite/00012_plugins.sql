-- +goose Up
-- The plug-in catalog; see the PostgreSQL migration of the same number.
CREATE TABLE plugins (
    id               TEXT     PRIMARY KEY,
    name             TEXT     NOT NULL,
    version          TEXT     NOT NULL,
    kind             TEXT     NOT NULL CHECK (kind IN ('measure', 'datasource', 'eventsource', 'paymentsink', 'notifier')),
    sha256           TEXT     NOT NULL CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
    protocol_version INTEGER  NOT NULL,
    file             TEXT     NOT NULL,
    tenants          TEXT     NOT NULL DEFAULT '[]',
    registered_by    TEXT,
    registered_at    DATETIME NOT NULL,
    UNIQUE (name, version)
);

CREATE TABLE plugin_enablements (
    tenant_id  TEXT     NOT NULL REFERENCES tenants (id),
    name       TEXT     NOT NULL,
    plugin_id  TEXT     NOT NULL REFERENCES plugins (id),
    config     TEXT     NOT NULL DEFAULT '{}',
    enabled_by TEXT,
    enabled_at DATETIME NOT NULL,
    PRIMARY KEY (tenant_id, name)
) WITHOUT ROWID;

CREATE TABLE plugin_incidents (
    id        TEXT     PRIMARY KEY,
    plugin_id TEXT     NOT NULL REFERENCES plugins (id),
    region    TEXT     NOT NULL DEFAULT '',
    kind      TEXT     NOT NULL,
    detail    TEXT     NOT NULL,
    at        DATETIME NOT NULL
);
CREATE INDEX plugin_incidents_at ON plugin_incidents (at);

INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, v4, v5) VALUES
    ('p', 'federal_admin', '*', 'plugins',  'list',     '*', '*'),
    ('p', 'federal_admin', '*', 'plugins',  'register', '*', '*'),
    ('p', 'tenant_admin',  '*', 'plugin',   'read',     '*', '*'),
    ('p', 'tenant_admin',  '*', 'plugin',   'enable',   '*', '*');
UPDATE access_version SET version = version + 1 WHERE id = 1;

-- +goose Down
DELETE FROM casbin_rule WHERE ptype = 'p' AND v1 = '*' AND v2 IN ('plugins', 'plugin');
UPDATE access_version SET version = version + 1 WHERE id = 1;
DROP TABLE plugin_incidents;
DROP TABLE plugin_enablements;
DROP TABLE plugins;
