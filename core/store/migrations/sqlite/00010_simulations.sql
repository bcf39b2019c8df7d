-- +goose Up
-- Policy simulations; see the PostgreSQL migration of the same number.
CREATE TABLE simulations (
    tenant_id      TEXT     NOT NULL,
    id             TEXT     NOT NULL,
    measure_code   TEXT     NOT NULL,
    version_number INTEGER  NOT NULL,
    on_date        DATE     NOT NULL,
    application    TEXT     NOT NULL DEFAULT '{}',
    status         TEXT     NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    persons        INTEGER  NOT NULL DEFAULT 0,
    result         TEXT,
    error          TEXT     NOT NULL DEFAULT '',
    attempts       INTEGER  NOT NULL DEFAULT 0,
    lease_until    DATETIME,
    created_by     TEXT,
    created_at     DATETIME NOT NULL,
    started_at     DATETIME,
    finished_at    DATETIME,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, measure_code, version_number) REFERENCES measure_versions (tenant_id, code, number)
) WITHOUT ROWID;
CREATE INDEX simulations_open ON simulations (tenant_id, created_at) WHERE status IN ('queued', 'running');

INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, v4, v5) VALUES
    ('p', 'tenant_admin', '*', 'measure', 'simulate', '*', '*');
UPDATE access_version SET version = version + 1 WHERE id = 1;

-- +goose Down
DELETE FROM casbin_rule WHERE ptype = 'p' AND v1 = '*' AND v2 = 'measure' AND v3 = 'simulate';
UPDATE access_version SET version = version + 1 WHERE id = 1;
DROP TABLE simulations;
