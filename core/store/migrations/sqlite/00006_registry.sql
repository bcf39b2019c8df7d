-- +goose Up
-- The registry of recipients; see the PostgreSQL migration of the same
-- number for the reasoning.
CREATE TABLE persons (
    tenant_id     TEXT     NOT NULL REFERENCES tenants (id),
    id            TEXT     NOT NULL CHECK (length(id) = 36),
    snils_index   BLOB     NOT NULL CHECK (length(snils_index) = 32),
    snils_enc     BLOB     NOT NULL,
    family_name   TEXT     NOT NULL CHECK (length(trim(family_name)) > 0),
    name_key      TEXT     NOT NULL,
    first_name    TEXT     NOT NULL CHECK (length(trim(first_name)) > 0),
    patronymic    TEXT     NOT NULL DEFAULT '',
    birth_date    DATE     NOT NULL CHECK (birth_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    sex           TEXT     NOT NULL CHECK (sex IN ('male', 'female')),
    citizenship   TEXT     NOT NULL DEFAULT '643' CHECK (length(citizenship) = 3 AND citizenship NOT GLOB '*[^0-9]*'),
    death_date    DATE     CHECK (death_date IS NULL OR death_date >= birth_date),
    address_oktmo TEXT     NOT NULL DEFAULT '' CHECK (length(address_oktmo) IN (0, 8, 11) AND address_oktmo NOT GLOB '*[^0-9]*'),
    address_text  TEXT     NOT NULL DEFAULT '',
    document_enc  BLOB,
    contacts_enc  BLOB,
    bank_enc      BLOB,
    origin        TEXT     NOT NULL CHECK (origin IN ('manual', 'import', 'connector', 'event')),
    merged_into   TEXT,
    version       INTEGER  NOT NULL DEFAULT 1,
    created_at    DATETIME NOT NULL,
    updated_at    DATETIME NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, snils_index)
) WITHOUT ROWID;
CREATE INDEX persons_name ON persons (tenant_id, name_key, birth_date);

CREATE TABLE person_history (
    tenant_id  TEXT     NOT NULL REFERENCES tenants (id),
    id         TEXT     NOT NULL,
    person_id  TEXT     NOT NULL,
    version    INTEGER  NOT NULL,
    data_enc   BLOB     NOT NULL,
    changed_by TEXT,
    changed_at DATETIME NOT NULL,
    reason     TEXT     NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, person_id, version),
    FOREIGN KEY (tenant_id, person_id) REFERENCES persons (tenant_id, id)
) WITHOUT ROWID;

CREATE TABLE relations (
    tenant_id     TEXT     NOT NULL REFERENCES tenants (id),
    id            TEXT     NOT NULL,
    person_id     TEXT     NOT NULL,
    relative_id   TEXT     NOT NULL,
    kind          TEXT     NOT NULL,
    valid_from    DATE     NOT NULL,
    valid_to      DATE     CHECK (valid_to IS NULL OR valid_to >= valid_from),
    origin        TEXT     NOT NULL CHECK (origin IN ('manual', 'import', 'connector', 'event')),
    recorded_at   DATETIME NOT NULL,
    superseded_at DATETIME,
    PRIMARY KEY (tenant_id, id),
    CHECK (person_id <> relative_id),
    FOREIGN KEY (tenant_id, person_id) REFERENCES persons (tenant_id, id),
    FOREIGN KEY (tenant_id, relative_id) REFERENCES persons (tenant_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX relations_current ON relations (tenant_id, person_id, relative_id, kind, valid_from) WHERE superseded_at IS NULL;
CREATE INDEX relations_relative ON relations (tenant_id, relative_id) WHERE superseded_at IS NULL;

CREATE TABLE incomes (
    tenant_id      TEXT     NOT NULL REFERENCES tenants (id),
    id             TEXT     NOT NULL,
    person_id      TEXT     NOT NULL,
    month          TEXT     NOT NULL CHECK (month GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]'),
    kind           TEXT     NOT NULL,
    amount_kopecks INTEGER  NOT NULL CHECK (amount_kopecks >= 0),
    source         TEXT     NOT NULL DEFAULT '',
    origin         TEXT     NOT NULL CHECK (origin IN ('manual', 'import', 'connector', 'event')),
    recorded_at    DATETIME NOT NULL,
    superseded_at  DATETIME,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, person_id) REFERENCES persons (tenant_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX incomes_current ON incomes (tenant_id, person_id, month, kind, source) WHERE superseded_at IS NULL;

CREATE TABLE disabilities (
    tenant_id        TEXT     NOT NULL REFERENCES tenants (id),
    id               TEXT     NOT NULL,
    person_id        TEXT     NOT NULL,
    disability_group INTEGER  NOT NULL CHECK (disability_group IN (0, 1, 2, 3, 4, 7)),
    valid_from       DATE     NOT NULL,
    valid_to         DATE     CHECK (valid_to IS NULL OR valid_to >= valid_from),
    origin           TEXT     NOT NULL CHECK (origin IN ('manual', 'import', 'connector', 'event')),
    recorded_at      DATETIME NOT NULL,
    superseded_at    DATETIME,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, person_id) REFERENCES persons (tenant_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX disabilities_current ON disabilities (tenant_id, person_id, valid_from) WHERE superseded_at IS NULL;

CREATE TABLE person_categories (
    tenant_id     TEXT     NOT NULL REFERENCES tenants (id),
    id            TEXT     NOT NULL,
    person_id     TEXT     NOT NULL,
    code          TEXT     NOT NULL,
    valid_from    DATE     NOT NULL,
    valid_to      DATE     CHECK (valid_to IS NULL OR valid_to >= valid_from),
    origin        TEXT     NOT NULL CHECK (origin IN ('manual', 'import', 'connector', 'event')),
    recorded_at   DATETIME NOT NULL,
    superseded_at DATETIME,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, person_id) REFERENCES persons (tenant_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX person_categories_current ON person_categories (tenant_id, person_id, code, valid_from) WHERE superseded_at IS NULL;

CREATE TABLE person_merges (
    tenant_id   TEXT     NOT NULL REFERENCES tenants (id),
    id          TEXT     NOT NULL,
    from_id     TEXT     NOT NULL,
    into_id     TEXT     NOT NULL,
    facts_moved INTEGER  NOT NULL,
    merged_by   TEXT,
    merged_at   DATETIME NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, from_id) REFERENCES persons (tenant_id, id),
    FOREIGN KEY (tenant_id, into_id) REFERENCES persons (tenant_id, id)
) WITHOUT ROWID;

CREATE TABLE imports (
    tenant_id    TEXT     NOT NULL REFERENCES tenants (id),
    id           TEXT     NOT NULL,
    status       TEXT     NOT NULL CHECK (status IN ('uploading', 'queued', 'running', 'done', 'failed')),
    mode         TEXT     NOT NULL CHECK (mode IN ('commit_valid', 'all_or_nothing')),
    format       TEXT     NOT NULL CHECK (format IN ('ndjson', 'csv')),
    record_type  TEXT     NOT NULL DEFAULT '',
    bytes        INTEGER  NOT NULL DEFAULT 0,
    sha256       TEXT     NOT NULL DEFAULT '',
    lines        INTEGER  NOT NULL DEFAULT 0,
    imported     INTEGER  NOT NULL DEFAULT 0,
    unchanged    INTEGER  NOT NULL DEFAULT 0,
    rejected     INTEGER  NOT NULL DEFAULT 0,
    bytes_done   INTEGER  NOT NULL DEFAULT 0,
    error        TEXT     NOT NULL DEFAULT '',
    created_by   TEXT,
    created_at   DATETIME NOT NULL,
    started_at   DATETIME,
    finished_at  DATETIME,
    lease_until  DATETIME,
    attempts     INTEGER  NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX imports_open ON imports (tenant_id, status) WHERE status IN ('queued', 'running');

CREATE TABLE import_chunks (
    tenant_id TEXT    NOT NULL REFERENCES tenants (id),
    import_id TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    data      BLOB    NOT NULL,
    PRIMARY KEY (tenant_id, import_id, seq),
    FOREIGN KEY (tenant_id, import_id) REFERENCES imports (tenant_id, id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE import_errors (
    tenant_id TEXT    NOT NULL REFERENCES tenants (id),
    import_id TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    line      INTEGER NOT NULL,
    location  TEXT    NOT NULL,
    message   TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, import_id, seq),
    FOREIGN KEY (tenant_id, import_id) REFERENCES imports (tenant_id, id) ON DELETE CASCADE
) WITHOUT ROWID;

INSERT INTO directories (code, name, description, extensible, code_pattern, attributes, created_at, updated_at)
VALUES ('income_kinds', 'Виды доходов', 'Kinds of income recorded in the registry of recipients; counted is false for kinds the means test leaves out.', 1, '^[a-z_]{2,40}$', '[{"name":"counted","type":"boolean"}]',
        strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'), strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'));
INSERT INTO directory_entries (id, directory_code, code, name, attributes, effective_from, effective_to, created_at, updated_at)
SELECT lower(substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7' || substr(r, 1, 3) || '-' ||
             substr('89ab', 1 + (abs(random()) % 4), 1) || substr(r, 4, 3) || '-' || substr(r, 7, 12)),
       'income_kinds', column1, column2, column3, '2024-01-01', NULL,
       strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'), strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')
FROM (SELECT printf('%012x', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)) AS h,
             lower(hex(randomblob(9))) AS r, v.* FROM (VALUES
    ('salary', 'Заработная плата', '{"counted":true}'),
    ('pension', 'Пенсия', '{"counted":true}'),
    ('benefit', 'Пособия и социальные выплаты', '{"counted":true}'),
    ('unemployment', 'Пособие по безработице', '{"counted":true}'),
    ('alimony', 'Алименты', '{"counted":true}'),
    ('business', 'Доход от предпринимательской деятельности', '{"counted":true}'),
    ('self_employed', 'Доход самозанятого (НПД)', '{"counted":true}'),
    ('scholarship', 'Стипендия', '{"counted":true}'),
    ('property', 'Доход от имущества', '{"counted":true}'),
    ('other', 'Прочие доходы', '{"counted":true}')
) AS v);

INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, v4, v5) VALUES
    ('p', 'tenant_admin', '*', 'person', 'read',   '*', '*'),
    ('p', 'tenant_admin', '*', 'person', 'merge',  '*', '*'),
    ('p', 'tenant_admin', '*', 'import', 'create', '*', '*'),
    ('p', 'tenant_admin', '*', 'import', 'read',   '*', '*'),
    ('p', 'specialist',   '*', 'person', 'read',   '*', '*'),
    ('p', 'specialist',   '*', 'person', 'create', '*', '*'),
    ('p', 'specialist',   '*', 'person', 'update', '*', '*'),
    ('p', 'specialist',   '*', 'person', 'merge',  '*', '*'),
    ('p', 'specialist',   '*', 'import', 'create', '*', '*'),
    ('p', 'specialist',   '*', 'import', 'read',   '*', '*'),
    ('p', 'approver',     '*', 'person', 'read',   '*', '*'),
    ('p', 'integration',  '*', 'person', 'read',   '*', '*'),
    ('p', 'integration',  '*', 'person', 'create', '*', '*'),
    ('p', 'integration',  '*', 'person', 'update', '*', '*'),
    ('p', 'integration',  '*', 'import', 'create', '*', '*'),
    ('p', 'integration',  '*', 'import', 'read',   '*', '*');
UPDATE access_version SET version = version + 1 WHERE id = 1;

-- +goose Down
DELETE FROM casbin_rule WHERE ptype = 'p' AND v1 = '*' AND v2 IN ('person', 'import');
UPDATE access_version SET version = version + 1 WHERE id = 1;
DELETE FROM directory_overlay_entries WHERE directory_code = 'income_kinds';
DELETE FROM directory_entries WHERE directory_code = 'income_kinds';
DELETE FROM directories WHERE code = 'income_kinds';
DROP TABLE import_errors;
DROP TABLE import_chunks;
DROP TABLE imports;
DROP TABLE person_merges;
DROP TABLE person_categories;
DROP TABLE disabilities;
DROP TABLE incomes;
DROP TABLE relations;
DROP TABLE person_history;
DROP TABLE persons;
