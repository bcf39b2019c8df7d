-- +goose Up
-- Regions are the platform's tenants; see the PostgreSQL migration of the same
-- number for the reasoning. SQLite has no row-level security: the GORM scope
-- in core/tenancy is the guard here.
CREATE TABLE tenants (
    id         TEXT     PRIMARY KEY CHECK (length(id) = 36),
    code       TEXT     NOT NULL UNIQUE CHECK (length(code) = 2 AND code GLOB '[0-9][0-9]'),
    name       TEXT     NOT NULL CHECK (length(trim(name)) > 0),
    okato      TEXT     NOT NULL CHECK (length(okato) IN (2, 5, 8, 11) AND okato NOT GLOB '*[^0-9]*'),
    oktmo      TEXT     NOT NULL CHECK (length(oktmo) IN (8, 11) AND oktmo NOT GLOB '*[^0-9]*'),
    status     TEXT     NOT NULL DEFAULT 'onboarding'
                        CHECK (status IN ('onboarding', 'active', 'suspended', 'archived')),
    mode       TEXT     NOT NULL DEFAULT 'full' CHECK (mode IN ('full', 'hybrid')),
    version    INTEGER  NOT NULL DEFAULT 1,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL
);

-- +goose Down
DROP TABLE tenants;
