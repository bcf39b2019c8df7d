-- +goose Up
-- Measures of social support as data (core/measure, docs/measures.md). A
-- version's rules and parameters are kept whole as the JSON the region
-- wrote (body) with its SHA-256, which decisions record. A version is a
-- draft until published; a published version never changes.
CREATE TABLE measures (
    tenant_id  uuid        NOT NULL REFERENCES tenants (id),
    code       text        NOT NULL CHECK (code ~ '^[a-z][a-z0-9_]{1,62}$'),
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, code)
);

CREATE TABLE measure_versions (
    tenant_id      uuid        NOT NULL,
    code           text        NOT NULL,
    number         integer     NOT NULL CHECK (number >= 1),
    status         text        NOT NULL CHECK (status IN ('draft', 'published')),
    effective_from date        NOT NULL,
    effective_to   date        CHECK (effective_to IS NULL OR effective_to >= effective_from),
    body           text        NOT NULL,
    body_sha256    bytea       NOT NULL CHECK (length(body_sha256) = 32),
    created_by     text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    published_by   text        NOT NULL DEFAULT '',
    published_at   timestamptz,
    PRIMARY KEY (tenant_id, code, number),
    FOREIGN KEY (tenant_id, code) REFERENCES measures (tenant_id, code)
);

-- +goose StatementBegin
CREATE FUNCTION measure_versions_published_are_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'published' THEN
        RAISE EXCEPTION 'measure % version % is published and cannot change', OLD.code, OLD.number;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER measure_versions_final BEFORE UPDATE OR DELETE ON measure_versions
    FOR EACH ROW EXECUTE FUNCTION measure_versions_published_are_final();

-- +goose StatementBegin
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['measures', 'measure_versions'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
            USING (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)
            WITH CHECK (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- Who writes measures (the region's administrator), who reads them and asks
-- "what if" (everyone who works cases).
INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, v4, v5) VALUES
    ('p', 'tenant_admin', '*', 'measure', 'read',     '*', '*'),
    ('p', 'tenant_admin', '*', 'measure', 'write',    '*', '*'),
    ('p', 'tenant_admin', '*', 'measure', 'publish',  '*', '*'),
    ('p', 'tenant_admin', '*', 'measure', 'evaluate', '*', '*'),
    ('p', 'specialist',   '*', 'measure', 'read',     '*', '*'),
    ('p', 'specialist',   '*', 'measure', 'evaluate', '*', '*'),
    ('p', 'approver',     '*', 'measure', 'read',     '*', '*'),
    ('p', 'approver',     '*', 'measure', 'evaluate', '*', '*'),
    ('p', 'integration',  '*', 'measure', 'read',     '*', '*'),
    ('p', 'auditor',      '*', 'measure', 'read',     '*', '*');
UPDATE access_version SET version = version + 1 WHERE id = 1;

-- +goose Down
DELETE FROM casbin_rule WHERE ptype = 'p' AND v1 = '*' AND v2 = 'measure';
UPDATE access_version SET version = version + 1 WHERE id = 1;
DROP TABLE measure_versions;
DROP FUNCTION measure_versions_published_are_final();
DROP TABLE measures;
