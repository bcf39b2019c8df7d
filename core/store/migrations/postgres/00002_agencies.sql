-- +goose Up
-- Assigning bodies (ОНМСЗ) of a region: the organisations that decide its
-- measures and report them to EGISSO under their oszCode.
CREATE TABLE agencies (
    tenant_id  uuid        NOT NULL REFERENCES tenants (id),
    id         uuid        NOT NULL,
    osz_code   text        NOT NULL CHECK (osz_code ~ '^[A-HJ-NP-Z0-9]{4}\.[0-9]{6}$'),
    name       text        NOT NULL CHECK (length(btrim(name)) > 0),
    short_name text        NOT NULL DEFAULT '',
    inn        text        NOT NULL CHECK (inn ~ '^[0-9]{10}$'),
    oktmo      text        NOT NULL CHECK (oktmo ~ '^[0-9]{8}([0-9]{3})?$'),
    version    bigint      NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, osz_code)
);

ALTER TABLE agencies ENABLE ROW LEVEL SECURITY;
ALTER TABLE agencies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON agencies
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- +goose Down
DROP TABLE agencies;
