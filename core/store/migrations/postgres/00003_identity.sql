-- +goose Up
-- Identity is platform-owned, like tenants: a caller is authenticated before
-- any region is known. A user belongs to one region (home_tenant) or, when
-- home_tenant is NULL, to the federal operator. Services filter by
-- home_tenant explicitly; what a user may do is decided by casbin_rule.
CREATE TABLE users (
    id                  uuid        PRIMARY KEY,
    username            text        NOT NULL UNIQUE CHECK (username = lower(username) AND length(username) BETWEEN 3 AND 100),
    display_name        text        NOT NULL DEFAULT '',
    home_tenant         uuid        REFERENCES tenants (id),
    kind                text        NOT NULL DEFAULT 'human' CHECK (kind IN ('human', 'service')),
    password_hash       text,
    status              text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    failed_logins       integer     NOT NULL DEFAULT 0,
    locked_until        timestamptz,
    external_subject    text        UNIQUE,
    version             bigint      NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE INDEX users_home_tenant ON users (home_tenant, id);

-- Refresh tokens rotate on every use; a reused (already rotated) token
-- revokes its whole family, which is how a stolen token is noticed.
CREATE TABLE refresh_tokens (
    id          uuid        PRIMARY KEY,
    family_id   uuid        NOT NULL,
    user_id     uuid        NOT NULL REFERENCES users (id),
    token_hash  bytea       NOT NULL UNIQUE,
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE api_keys (
    id           uuid        PRIMARY KEY,
    key_id       text        NOT NULL UNIQUE,
    user_id      uuid        NOT NULL REFERENCES users (id),
    name         text        NOT NULL,
    secret_hash  bytea       NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    revoked_by   uuid,
    created_by   uuid,
    created_at   timestamptz NOT NULL
);
CREATE INDEX api_keys_user ON api_keys (user_id);

-- Casbin's policy lines (the gorm-adapter's layout); never auto-migrated.
CREATE TABLE casbin_rule (
    id    bigserial    PRIMARY KEY,
    ptype varchar(100) NOT NULL DEFAULT '',
    v0    varchar(100) NOT NULL DEFAULT '',
    v1    varchar(100) NOT NULL DEFAULT '',
    v2    varchar(100) NOT NULL DEFAULT '',
    v3    varchar(100) NOT NULL DEFAULT '',
    v4    varchar(100) NOT NULL DEFAULT '',
    v5    varchar(100) NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX idx_casbin_rule ON casbin_rule (ptype, v0, v1, v2, v3, v4, v5);

-- Bumped by every change that affects decisions (policies, user status, API
-- key revocation); every replica polls it and reloads when it moves.
CREATE TABLE access_version (
    id      integer PRIMARY KEY CHECK (id = 1),
    version bigint  NOT NULL
);
INSERT INTO access_version (id, version) VALUES (1, 1);

-- A region hands an object (measure:<code>) to the federal operator for a
-- period; revocation keeps the row.
CREATE TABLE delegations (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id),
    id          uuid        NOT NULL,
    object      text        NOT NULL CHECK (object ~ '^[a-z_]+:[A-Za-z0-9_.-]+$'),
    grantee     text        NOT NULL DEFAULT 'federal' CHECK (grantee = 'federal'),
    valid_from  date        NOT NULL,
    valid_to    date,
    note        text        NOT NULL DEFAULT '',
    granted_by  uuid        NOT NULL,
    granted_at  timestamptz NOT NULL,
    revoked_by  uuid,
    revoked_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
ALTER TABLE delegations ENABLE ROW LEVEL SECURITY;
ALTER TABLE delegations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON delegations
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- Default policies of the roles. Domain '*' holds in every region; federal
-- roles are given to users through g2 and hold in every domain. v4 and v5
-- bound a policy's validity in civil dates; '*' is unbounded (the adapter
-- drops empty trailing fields, so they cannot be left empty).
INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, v4, v5) VALUES
    ('p', 'federal_admin',    '*', 'tenants',    'list', '*', '*'),
    ('p', 'federal_admin',    '*', 'tenants',    'create', '*', '*'),
    ('p', 'federal_admin',    '*', 'tenant',     'read', '*', '*'),
    ('p', 'federal_admin',    '*', 'tenant',     'update', '*', '*'),
    ('p', 'federal_admin',    '*', 'agency',     'read', '*', '*'),
    ('p', 'federal_admin',    '*', 'user',       'read', '*', '*'),
    ('p', 'federal_admin',    '*', 'user',       'create', '*', '*'),
    ('p', 'federal_admin',    '*', 'user',       'update', '*', '*'),
    ('p', 'federal_admin',    '*', 'role',       'grant', '*', '*'),
    ('p', 'federal_admin',    '*', 'delegation', 'read', '*', '*'),
    ('p', 'federal_admin',    '*', 'federal_user', 'read', '*', '*'),
    ('p', 'federal_admin',    '*', 'federal_user', 'create', '*', '*'),
    ('p', 'federal_auditor',  '*', 'tenants',    'list', '*', '*'),
    ('p', 'federal_auditor',  '*', 'tenant',     'read', '*', '*'),
    ('p', 'federal_auditor',  '*', 'agency',     'read', '*', '*'),
    ('p', 'federal_auditor',  '*', 'user',       'read', '*', '*'),
    ('p', 'federal_auditor',  '*', 'delegation', 'read', '*', '*'),
    ('p', 'federal_auditor',  '*', 'federal_user', 'read', '*', '*'),
    ('p', 'tenant_admin',     '*', 'tenant',     'read', '*', '*'),
    ('p', 'tenant_admin',     '*', 'agency',     'read', '*', '*'),
    ('p', 'tenant_admin',     '*', 'agency',     'create', '*', '*'),
    ('p', 'tenant_admin',     '*', 'agency',     'update', '*', '*'),
    ('p', 'tenant_admin',     '*', 'user',       'read', '*', '*'),
    ('p', 'tenant_admin',     '*', 'user',       'create', '*', '*'),
    ('p', 'tenant_admin',     '*', 'user',       'update', '*', '*'),
    ('p', 'tenant_admin',     '*', 'role',       'grant', '*', '*'),
    ('p', 'tenant_admin',     '*', 'apikey',     'read', '*', '*'),
    ('p', 'tenant_admin',     '*', 'apikey',     'create', '*', '*'),
    ('p', 'tenant_admin',     '*', 'apikey',     'revoke', '*', '*'),
    ('p', 'tenant_admin',     '*', 'delegation', 'read', '*', '*'),
    ('p', 'tenant_admin',     '*', 'delegation', 'create', '*', '*'),
    ('p', 'tenant_admin',     '*', 'delegation', 'revoke', '*', '*'),
    ('p', 'specialist',       '*', 'tenant',     'read', '*', '*'),
    ('p', 'specialist',       '*', 'agency',     'read', '*', '*'),
    ('p', 'approver',         '*', 'tenant',     'read', '*', '*'),
    ('p', 'approver',         '*', 'agency',     'read', '*', '*'),
    ('p', 'treasurer',        '*', 'tenant',     'read', '*', '*'),
    ('p', 'treasurer',        '*', 'agency',     'read', '*', '*'),
    ('p', 'auditor',          '*', 'tenant',     'read', '*', '*'),
    ('p', 'auditor',          '*', 'agency',     'read', '*', '*'),
    ('p', 'auditor',          '*', 'user',       'read', '*', '*'),
    ('p', 'auditor',          '*', 'delegation', 'read', '*', '*'),
    ('p', 'integration',      '*', 'tenant',     'read', '*', '*'),
    ('p', 'integration',      '*', 'agency',     'read', '*', '*'),
    ('p', 'plugin_developer', '*', 'tenant',     'read', '*', '*');

-- +goose Down
DROP TABLE delegations;
DROP TABLE access_version;
DROP TABLE casbin_rule;
DROP TABLE api_keys;
DROP TABLE refresh_tokens;
DROP TABLE users;
