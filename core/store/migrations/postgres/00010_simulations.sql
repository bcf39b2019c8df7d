-- +goose Up
-- Policy simulations (core/measure): a version evaluated over a region's
-- whole registry as a job with progress. A runner in every serve claims a
-- queued job with a lease; a job whose runner died is run again from the
-- start when its lease has run out (a simulation only reads).
CREATE TABLE simulations (
    tenant_id      uuid        NOT NULL,
    id             uuid        NOT NULL,
    measure_code   text        NOT NULL,
    version_number integer     NOT NULL,
    on_date        date        NOT NULL,
    application    text        NOT NULL DEFAULT '{}',
    status         text        NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    persons        integer     NOT NULL DEFAULT 0,
    result         text,
    error          text        NOT NULL DEFAULT '',
    attempts       integer     NOT NULL DEFAULT 0,
    lease_until    timestamptz,
    created_by     uuid,
    created_at     timestamptz NOT NULL,
    started_at     timestamptz,
    finished_at    timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, measure_code, version_number) REFERENCES measure_versions (tenant_id, code, number)
);
CREATE INDEX simulations_open ON simulations (tenant_id, created_at) WHERE status IN ('queued', 'running');
ALTER TABLE simulations ENABLE ROW LEVEL SECURITY;
ALTER TABLE simulations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON simulations
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, v4, v5) VALUES
    ('p', 'tenant_admin', '*', 'measure', 'simulate', '*', '*');
UPDATE access_version SET version = version + 1 WHERE id = 1;

-- +goose Down
DELETE FROM casbin_rule WHERE ptype = 'p' AND v1 = '*' AND v2 = 'measure' AND v3 = 'simulate';
UPDATE access_version SET version = version + 1 WHERE id = 1;
DROP TABLE simulations;
