-- +goose Up
-- The registry of recipients (core/registry, docs/registry.md). SNILS,
-- identity documents, contacts and bank details are sealed by core/pdcrypt
-- (*_enc columns); a SNILS is found through its blind index. Facts
-- (relations, incomes, disabilities, categories) are never updated in place:
-- a correction supersedes the current row with a new one, so history stays.
-- origin says where a row came from: manual, import, connector or event.
CREATE TABLE persons (
    tenant_id     uuid        NOT NULL REFERENCES tenants (id),
    id            uuid        NOT NULL,
    snils_index   bytea       NOT NULL CHECK (octet_length(snils_index) = 32),
    snils_enc     bytea       NOT NULL,
    family_name   text        NOT NULL CHECK (length(btrim(family_name)) > 0),
    -- the family name as searched: lower case, ё as е (folded in Go, so that
    -- both dialects and every collation agree)
    name_key      text        NOT NULL,
    first_name    text        NOT NULL CHECK (length(btrim(first_name)) > 0),
    patronymic    text        NOT NULL DEFAULT '',
    birth_date    date        NOT NULL,
    sex           text        NOT NULL CHECK (sex IN ('male', 'female')),
    citizenship   text        NOT NULL DEFAULT '643' CHECK (citizenship ~ '^[0-9]{3}$'),
    death_date    date        CHECK (death_date IS NULL OR death_date >= birth_date),
    address_oktmo text        NOT NULL DEFAULT '' CHECK (address_oktmo ~ '^([0-9]{8}([0-9]{3})?)?$'),
    address_text  text        NOT NULL DEFAULT '',
    document_enc  bytea,
    contacts_enc  bytea,
    bank_enc      bytea,
    origin        text        NOT NULL CHECK (origin IN ('manual', 'import', 'connector', 'event')),
    merged_into   uuid,
    version       bigint      NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, snils_index)
);
CREATE INDEX persons_name ON persons (tenant_id, name_key, birth_date);

-- Every earlier version of a person, sealed whole (it holds the SNILS).
CREATE TABLE person_history (
    tenant_id  uuid        NOT NULL REFERENCES tenants (id),
    id         uuid        NOT NULL,
    person_id  uuid        NOT NULL,
    version    bigint      NOT NULL,
    data_enc   bytea       NOT NULL,
    changed_by uuid,
    changed_at timestamptz NOT NULL,
    reason     text        NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, person_id, version),
    FOREIGN KEY (tenant_id, person_id) REFERENCES persons (tenant_id, id)
);

CREATE TABLE relations (
    tenant_id     uuid        NOT NULL REFERENCES tenants (id),
    id            uuid        NOT NULL,
    person_id     uuid        NOT NULL,
    relative_id   uuid        NOT NULL,
    kind          text        NOT NULL,
    valid_from    date        NOT NULL,
    valid_to      date        CHECK (valid_to IS NULL OR valid_to >= valid_from),
    origin        text        NOT NULL CHECK (origin IN ('manual', 'import', 'connector', 'event')),
    recorded_at   timestamptz NOT NULL,
    superseded_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    CHECK (person_id <> relative_id),
    FOREIGN KEY (tenant_id, person_id) REFERENCES persons (tenant_id, id),
    FOREIGN KEY (tenant_id, relative_id) REFERENCES persons (tenant_id, id)
);
CREATE UNIQUE INDEX relations_current ON relations (tenant_id, person_id, relative_id, kind, valid_from) WHERE superseded_at IS NULL;
CREATE INDEX relations_relative ON relations (tenant_id, relative_id) WHERE superseded_at IS NULL;

CREATE TABLE incomes (
    tenant_id      uuid        NOT NULL REFERENCES tenants (id),
    id             uuid        NOT NULL,
    person_id      uuid        NOT NULL,
    month          text        NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    kind           text        NOT NULL,
    amount_kopecks bigint      NOT NULL CHECK (amount_kopecks >= 0),
    source         text        NOT NULL DEFAULT '',
    origin         text        NOT NULL CHECK (origin IN ('manual', 'import', 'connector', 'event')),
    recorded_at    timestamptz NOT NULL,
    superseded_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, person_id) REFERENCES persons (tenant_id, id)
);
CREATE UNIQUE INDEX incomes_current ON incomes (tenant_id, person_id, month, kind, source) WHERE superseded_at IS NULL;

CREATE TABLE disabilities (
    tenant_id        uuid        NOT NULL REFERENCES tenants (id),
    id               uuid        NOT NULL,
    person_id        uuid        NOT NULL,
    disability_group smallint    NOT NULL CHECK (disability_group IN (0, 1, 2, 3, 4, 7)),
    valid_from       date        NOT NULL,
    valid_to         date        CHECK (valid_to IS NULL OR valid_to >= valid_from),
    origin           text        NOT NULL CHECK (origin IN ('manual', 'import', 'connector', 'event')),
    recorded_at      timestamptz NOT NULL,
    superseded_at    timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, person_id) REFERENCES persons (tenant_id, id)
);
CREATE UNIQUE INDEX disabilities_current ON disabilities (tenant_id, person_id, valid_from) WHERE superseded_at IS NULL;

CREATE TABLE person_categories (
    tenant_id     uuid        NOT NULL REFERENCES tenants (id),
    id            uuid        NOT NULL,
    person_id     uuid        NOT NULL,
    code          text        NOT NULL,
    valid_from    date        NOT NULL,
    valid_to      date        CHECK (valid_to IS NULL OR valid_to >= valid_from),
    origin        text        NOT NULL CHECK (origin IN ('manual', 'import', 'connector', 'event')),
    recorded_at   timestamptz NOT NULL,
    superseded_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, person_id) REFERENCES persons (tenant_id, id)
);
CREATE UNIQUE INDEX person_categories_current ON person_categories (tenant_id, person_id, code, valid_from) WHERE superseded_at IS NULL;

-- A merge moves the duplicate's current facts to the person kept; the
-- duplicate stays, pointing at it (merged_into), and this row says when,
-- by whom and how much moved.
CREATE TABLE person_merges (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id),
    id          uuid        NOT NULL,
    from_id     uuid        NOT NULL,
    into_id     uuid        NOT NULL,
    facts_moved bigint      NOT NULL,
    merged_by   uuid,
    merged_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, from_id) REFERENCES persons (tenant_id, id),
    FOREIGN KEY (tenant_id, into_id) REFERENCES persons (tenant_id, id)
);

-- Bulk imports: the job row (progress, counters), the uploaded file in
-- chunks until it is done, and the rejected lines.
CREATE TABLE imports (
    tenant_id    uuid        NOT NULL REFERENCES tenants (id),
    id           uuid        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('uploading', 'queued', 'running', 'done', 'failed')),
    mode         text        NOT NULL CHECK (mode IN ('commit_valid', 'all_or_nothing')),
    format       text        NOT NULL CHECK (format IN ('ndjson', 'csv')),
    record_type  text        NOT NULL DEFAULT '',
    bytes        bigint      NOT NULL DEFAULT 0,
    sha256       text        NOT NULL DEFAULT '',
    lines        bigint      NOT NULL DEFAULT 0,
    imported     bigint      NOT NULL DEFAULT 0,
    unchanged    bigint      NOT NULL DEFAULT 0,
    rejected     bigint      NOT NULL DEFAULT 0,
    bytes_done   bigint      NOT NULL DEFAULT 0,
    error        text        NOT NULL DEFAULT '',
    created_by   uuid,
    created_at   timestamptz NOT NULL,
    started_at   timestamptz,
    finished_at  timestamptz,
    lease_until  timestamptz,
    attempts     integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX imports_open ON imports (tenant_id, status) WHERE status IN ('queued', 'running');

CREATE TABLE import_chunks (
    tenant_id uuid    NOT NULL REFERENCES tenants (id),
    import_id uuid    NOT NULL,
    seq       integer NOT NULL,
    data      bytea   NOT NULL,
    PRIMARY KEY (tenant_id, import_id, seq),
    FOREIGN KEY (tenant_id, import_id) REFERENCES imports (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE import_errors (
    tenant_id uuid   NOT NULL REFERENCES tenants (id),
    import_id uuid   NOT NULL,
    seq       bigint NOT NULL,
    line      bigint NOT NULL,
    location  text   NOT NULL,
    message   text   NOT NULL,
    PRIMARY KEY (tenant_id, import_id, seq),
    FOREIGN KEY (tenant_id, import_id) REFERENCES imports (tenant_id, id) ON DELETE CASCADE
);

-- +goose StatementBegin
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['persons', 'person_history', 'relations', 'incomes', 'disabilities',
                             'person_categories', 'person_merges', 'imports', 'import_chunks', 'import_errors'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
            USING (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)
            WITH CHECK (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- The planner's statistics of the registry, refreshed by a bulk import as
-- it grows the tables (ANALYZE needs the owner; the app role calls this).
-- Without them the planner takes a region's key for a selective one and
-- reads all its rows for every look-up of a batch.
-- +goose StatementBegin
CREATE FUNCTION registry_analyze() RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    ANALYZE persons;
    ANALYZE relations;
    ANALYZE incomes;
    ANALYZE disabilities;
    ANALYZE person_categories;
END
$$;
-- +goose StatementEnd

-- Kinds of income the registry accepts (the means test sums them).
INSERT INTO directories (code, name, description, extensible, code_pattern, attributes, created_at, updated_at)
VALUES ('income_kinds', 'Виды доходов', 'Kinds of income recorded in the registry of recipients; counted is false for kinds the means test leaves out.', true, '^[a-z_]{2,40}$', '[{"name":"counted","type":"boolean"}]'::jsonb, now(), now());
INSERT INTO directory_entries (id, directory_code, code, name, attributes, effective_from, effective_to, created_at, updated_at)
SELECT (lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7' ||
        substr(md5(random()::text), 1, 3) || substr('89ab', 1 + floor(random() * 4)::int, 1) ||
        substr(md5(random()::text), 1, 15))::uuid,
       'income_kinds', v.code, v.name, v.attrs::jsonb, DATE '2024-01-01', NULL, now(), now()
FROM (VALUES
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
) AS v (code, name, attrs);

-- Who works with the registry: case workers and integrations read and
-- write it; the approver reads; the region's administrator imports and
-- merges. Federal roles see no personal data without a delegation.
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
DROP FUNCTION registry_analyze();
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
