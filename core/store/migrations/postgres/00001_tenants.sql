-- +goose Up
-- Regions are the platform's tenants. The table itself is platform-owned:
-- federal operators list and change it, so it carries no row-level security.
CREATE TABLE tenants (
    id         uuid        PRIMARY KEY,
    code       text        NOT NULL UNIQUE CHECK (code ~ '^[0-9]{2}$'),
    name       text        NOT NULL CHECK (length(btrim(name)) > 0),
    okato      text        NOT NULL CHECK (okato ~ '^[0-9]{2}([0-9]{3}([0-9]{3}([0-9]{3})?)?)?$'),
    oktmo      text        NOT NULL CHECK (oktmo ~ '^[0-9]{8}([0-9]{3})?$'),
    status     text        NOT NULL DEFAULT 'onboarding'
                           CHECK (status IN ('onboarding', 'active', 'suspended', 'archived')),
    mode       text        NOT NULL DEFAULT 'full' CHECK (mode IN ('full', 'hybrid')),
    version    bigint      NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE tenants;
