-- +goose Up
-- Applications, decisions and assignments (core/casework, core/assignment,
-- docs/casework.md). A decision keeps what it was taken on — the measure
-- version (number and SHA-256), the case's inputs as JSON with their
-- SHA-256, and the outcome — so that it can be replayed years later.
CREATE TABLE applications (
    tenant_id      uuid        NOT NULL,
    id             uuid        NOT NULL,
    measure_code   text        NOT NULL,
    person_id      uuid        NOT NULL,
    channel        text        NOT NULL CHECK (channel IN ('specialist', 'integration', 'portal', 'proactive')),
    data           text        NOT NULL DEFAULT '{}',
    status         text        NOT NULL CHECK (status IN ('registered', 'evaluated', 'decided')),
    received_on    date        NOT NULL,
    register_by    date        NOT NULL,
    registered_at  timestamptz NOT NULL,
    registered_by  uuid,
    data_by        date        NOT NULL,
    evaluated_at   timestamptz,
    prepared_by    uuid,
    version_number integer,
    version_sha256 bytea CHECK (version_sha256 IS NULL OR length(version_sha256) = 32),
    inputs         text,
    inputs_sha256  bytea CHECK (inputs_sha256 IS NULL OR length(inputs_sha256) = 32),
    outcome        text,
    decide_on      date        NOT NULL,
    decided_at     timestamptz,
    notify_by      date,
    notified_at    timestamptz,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, person_id) REFERENCES persons (tenant_id, id),
    FOREIGN KEY (tenant_id, measure_code) REFERENCES measures (tenant_id, code)
);
CREATE INDEX applications_open ON applications (tenant_id, status) WHERE status <> 'decided' OR notified_at IS NULL;

CREATE TABLE decisions (
    tenant_id       uuid        NOT NULL,
    id              uuid        NOT NULL,
    application_id  uuid        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('grant', 'refuse')),
    automatic       boolean     NOT NULL,
    decided_by      uuid,
    reason          text        NOT NULL DEFAULT '',
    measure_code    text        NOT NULL,
    version_number  integer     NOT NULL,
    version_sha256  bytea       NOT NULL CHECK (length(version_sha256) = 32),
    inputs          text        NOT NULL,
    inputs_sha256   bytea       NOT NULL CHECK (length(inputs_sha256) = 32),
    outcome         text        NOT NULL,
    amount_kopecks  bigint      NOT NULL CHECK (amount_kopecks >= 0),
    period_start    date,
    period_end      date,
    supersedes      uuid,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, application_id) REFERENCES applications (tenant_id, id),
    FOREIGN KEY (tenant_id, supersedes) REFERENCES decisions (tenant_id, id),
    CHECK (automatic = (decided_by IS NULL))
);
-- One first decision per application, one review per decision: deciding
-- twice is a conflict the database settles.
CREATE UNIQUE INDEX decisions_first ON decisions (tenant_id, application_id) WHERE supersedes IS NULL;
CREATE UNIQUE INDEX decisions_review ON decisions (tenant_id, supersedes) WHERE supersedes IS NOT NULL;

CREATE TABLE assignments (
    tenant_id        uuid        NOT NULL,
    id               uuid        NOT NULL,
    person_id        uuid        NOT NULL,
    measure_code     text        NOT NULL,
    decision_id      uuid        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('active', 'suspended', 'terminated')),
    termination_kind text        NOT NULL DEFAULT '' CHECK (termination_kind IN ('', 'recalculation', 'ineligibility', 'end_of_right', 'end_of_validity_period', 'recipient_refusal')),
    amount_kopecks   bigint      NOT NULL CHECK (amount_kopecks >= 0),
    start_on         date        NOT NULL,
    end_on           date,
    version          integer     NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, person_id) REFERENCES persons (tenant_id, id),
    FOREIGN KEY (tenant_id, decision_id) REFERENCES decisions (tenant_id, id)
);
CREATE INDEX assignments_person ON assignments (tenant_id, person_id);

-- Every version of an assignment: what it was from a date and why.
CREATE TABLE assignment_versions (
    tenant_id      uuid        NOT NULL,
    assignment_id  uuid        NOT NULL,
    version        integer     NOT NULL,
    effective_from date        NOT NULL,
    status         text        NOT NULL,
    amount_kopecks bigint      NOT NULL,
    end_on         date,
    reason         text        NOT NULL DEFAULT '',
    decision_id    uuid,
    created_by     uuid,
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, assignment_id, version),
    FOREIGN KEY (tenant_id, assignment_id) REFERENCES assignments (tenant_id, id)
);

-- +goose StatementBegin
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['applications', 'decisions', 'assignments', 'assignment_versions'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
            USING (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)
            WITH CHECK (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
    END LOOP;
END
$$;
-- +goose StatementEnd

INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, v4, v5) VALUES
    ('p', 'specialist',   '*', 'application', 'create', '*', '*'),
    ('p', 'specialist',   '*', 'application', 'read',   '*', '*'),
    ('p', 'specialist',   '*', 'application', 'update', '*', '*'),
    ('p', 'integration',  '*', 'application', 'create', '*', '*'),
    ('p', 'integration',  '*', 'application', 'read',   '*', '*'),
    ('p', 'approver',     '*', 'application', 'read',   '*', '*'),
    ('p', 'approver',     '*', 'application', 'decide', '*', '*'),
    ('p', 'tenant_admin', '*', 'application', 'read',   '*', '*'),
    ('p', 'auditor',      '*', 'application', 'read',   '*', '*'),
    ('p', 'specialist',   '*', 'decision',    'read',   '*', '*'),
    ('p', 'approver',     '*', 'decision',    'read',   '*', '*'),
    ('p', 'approver',     '*', 'decision',    'appeal', '*', '*'),
    ('p', 'auditor',      '*', 'decision',    'read',   '*', '*'),
    ('p', 'tenant_admin', '*', 'decision',    'read',   '*', '*'),
    ('p', 'specialist',   '*', 'assignment',  'read',   '*', '*'),
    ('p', 'approver',     '*', 'assignment',  'read',   '*', '*'),
    ('p', 'approver',     '*', 'assignment',  'update', '*', '*'),
    ('p', 'treasurer',    '*', 'assignment',  'read',   '*', '*'),
    ('p', 'auditor',      '*', 'assignment',  'read',   '*', '*'),
    ('p', 'tenant_admin', '*', 'assignment',  'read',   '*', '*');
UPDATE access_version SET version = version + 1 WHERE id = 1;

-- +goose Down
DELETE FROM casbin_rule WHERE ptype = 'p' AND v1 = '*' AND v2 IN ('application', 'decision', 'assignment');
UPDATE access_version SET version = version + 1 WHERE id = 1;
DROP TABLE assignment_versions;
DROP TABLE assignments;
DROP TABLE decisions;
DROP TABLE applications;
