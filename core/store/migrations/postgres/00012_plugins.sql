-- +goose Up
-- The plug-in catalog (core/pluginhost): binaries the federal operator
-- registered, pinned by SHA-256, and which regions may use them. A region
-- enables one version of a plug-in at a time, with its configuration.
CREATE TABLE plugins (
    id               uuid        PRIMARY KEY,
    name             text        NOT NULL,
    version          text        NOT NULL,
    kind             text        NOT NULL CHECK (kind IN ('measure', 'datasource', 'eventsource', 'paymentsink', 'notifier')),
    sha256           text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    protocol_version integer     NOT NULL,
    file             text        NOT NULL,
    tenants          text        NOT NULL DEFAULT '[]',
    registered_by    uuid,
    registered_at    timestamptz NOT NULL,
    UNIQUE (name, version)
);

CREATE TABLE plugin_enablements (
    tenant_id  uuid        NOT NULL REFERENCES tenants (id),
    name       text        NOT NULL,
    plugin_id  uuid        NOT NULL REFERENCES plugins (id),
    config     text        NOT NULL DEFAULT '{}',
    enabled_by uuid,
    enabled_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
ALTER TABLE plugin_enablements ENABLE ROW LEVEL SECURITY;
ALTER TABLE plugin_enablements FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON plugin_enablements
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- What went wrong with a plug-in: a binary that no longer matches its
-- checksum, a crash, a hang. For the federal operator: the region is a
-- code, not a tenant-owned row.
CREATE TABLE plugin_incidents (
    id        uuid        PRIMARY KEY,
    plugin_id uuid        NOT NULL REFERENCES plugins (id),
    region    text        NOT NULL DEFAULT '',
    kind      text        NOT NULL,
    detail    text        NOT NULL,
    at        timestamptz NOT NULL
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
