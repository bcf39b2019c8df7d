-- +goose Up
CREATE TABLE agencies (
    tenant_id  TEXT     NOT NULL REFERENCES tenants (id),
    id         TEXT     NOT NULL CHECK (length(id) = 36),
    osz_code   TEXT     NOT NULL CHECK (length(osz_code) = 11 AND osz_code GLOB '[A-HJ-NP-Z0-9][A-HJ-NP-Z0-9][A-HJ-NP-Z0-9][A-HJ-NP-Z0-9].[0-9][0-9][0-9][0-9][0-9][0-9]'),
    name       TEXT     NOT NULL CHECK (length(trim(name)) > 0),
    short_name TEXT     NOT NULL DEFAULT '',
    inn        TEXT     NOT NULL CHECK (length(inn) = 10 AND inn NOT GLOB '*[^0-9]*'),
    oktmo      TEXT     NOT NULL CHECK (length(oktmo) IN (8, 11) AND oktmo NOT GLOB '*[^0-9]*'),
    version    INTEGER  NOT NULL DEFAULT 1,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, osz_code)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE agencies;
