-- +goose Up
-- See the PostgreSQL migration of the same number. Applications, decisions and assignments (core/casework, core/assignment,
-- docs/casework.md). A decision keeps what it was taken on — the measure
-- version (number and SHA-256), the case's inputs as JSON with their
-- SHA-256, and the outcome — so that it can be replayed years later.
CREATE TABLE applications (
    tenant_id      TEXT        NOT NULL,
    id             TEXT        NOT NULL,
    measure_code   TEXT        NOT NULL,
    person_id      TEXT        NOT NULL,
    channel        TEXT        NOT NULL CHECK (channel IN ('specialist', 'integration', 'portal', 'proactive')),
    data           TEXT        NOT NULL DEFAULT '{}',
    status         TEXT        NOT NULL CHECK (status IN ('registered', 'evaluated', 'decided')),
    received_on    DATE        NOT NULL,
    register_by    DATE        NOT NULL,
    registered_at  DATETIME NOT NULL,
    registered_by  TEXT,
    data_by        DATE        NOT NULL,
    evaluated_at   DATETIME,
    prepared_by    TEXT,
    version_number INTEGER,
    version_sha256 BLOB CHECK (version_sha256 IS NULL OR length(version_sha256) = 32),
    inputs         TEXT,
    inputs_sha256  BLOB CHECK (inputs_sha256 IS NULL OR length(inputs_sha256) = 32),
    outcome        TEXT,
    decide_on      DATE        NOT NULL,
    decided_at     DATETIME,
    notify_by      date,
    notified_at    DATETIME,
    created_at     DATETIME NOT NULL,
    updated_at     DATETIME NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, person_id) REFERENCES persons (tenant_id, id),
    FOREIGN KEY (tenant_id, measure_code) REFERENCES measures (tenant_id, code)
) WITHOUT ROWID;
CREATE INDEX applications_open ON applications (tenant_id, status) WHERE status <> 'decided' OR notified_at IS NULL;

CREATE TABLE decisions (
    tenant_id       TEXT        NOT NULL,
    id              TEXT        NOT NULL,
    application_id  TEXT        NOT NULL,
    kind            TEXT        NOT NULL CHECK (kind IN ('grant', 'refuse')),
    automatic       BOOLEAN     NOT NULL,
    decided_by      TEXT,
    reason          TEXT        NOT NULL DEFAULT '',
    measure_code    TEXT        NOT NULL,
    version_number  INTEGER     NOT NULL,
    version_sha256  BLOB       NOT NULL CHECK (length(version_sha256) = 32),
    inputs          TEXT        NOT NULL,
    inputs_sha256   BLOB       NOT NULL CHECK (length(inputs_sha256) = 32),
    outcome         TEXT        NOT NULL,
    amount_kopecks  INTEGER      NOT NULL CHECK (amount_kopecks >= 0),
    period_start    date,
    period_end      date,
    supersedes      TEXT,
    created_at      DATETIME NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, application_id) REFERENCES applications (tenant_id, id),
    FOREIGN KEY (tenant_id, supersedes) REFERENCES decisions (tenant_id, id),
    CHECK ((automatic <> 0) = (decided_by IS NULL))
);
-- One first decision per application, one review per decision: deciding
-- twice is a conflict the database settles.
CREATE UNIQUE INDEX decisions_first ON decisions (tenant_id, application_id) WHERE supersedes IS NULL;
CREATE UNIQUE INDEX decisions_review ON decisions (tenant_id, supersedes) WHERE supersedes IS NOT NULL;

CREATE TABLE assignments (
    tenant_id        TEXT        NOT NULL,
    id               TEXT        NOT NULL,
    person_id        TEXT        NOT NULL,
    measure_code     TEXT        NOT NULL,
    decision_id      TEXT        NOT NULL,
    status           TEXT        NOT NULL CHECK (status IN ('active', 'suspended', 'terminated')),
    termination_kind TEXT        NOT NULL DEFAULT '' CHECK (termination_kind IN ('', 'recalculation', 'ineligibility', 'end_of_right', 'end_of_validity_period', 'recipient_refusal')),
    amount_kopecks   INTEGER      NOT NULL CHECK (amount_kopecks >= 0),
    start_on         DATE        NOT NULL,
    end_on           date,
    version          INTEGER     NOT NULL DEFAULT 1,
    created_at       DATETIME NOT NULL,
    updated_at       DATETIME NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, person_id) REFERENCES persons (tenant_id, id),
    FOREIGN KEY (tenant_id, decision_id) REFERENCES decisions (tenant_id, id)
);
CREATE INDEX assignments_person ON assignments (tenant_id, person_id);

-- Every version of an assignment: what it was from a DATE and why.
CREATE TABLE assignment_versions (
    tenant_id      TEXT        NOT NULL,
    assignment_id  TEXT        NOT NULL,
    version        INTEGER     NOT NULL,
    effective_from DATE        NOT NULL,
    status         TEXT        NOT NULL,
    amount_kopecks INTEGER      NOT NULL,
    end_on         date,
    reason         TEXT        NOT NULL DEFAULT '',
    decision_id    TEXT,
    created_by     TEXT,
    created_at     DATETIME NOT NULL,
    PRIMARY KEY (tenant_id, assignment_id, version),
    FOREIGN KEY (tenant_id, assignment_id) REFERENCES assignments (tenant_id, id)
);


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
