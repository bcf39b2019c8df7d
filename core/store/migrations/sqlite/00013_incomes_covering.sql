-- +goose Up
-- PostgreSQL adds the amount to incomes' current index here, for
-- index-only reads of a window's incomes. SQLite keeps its index: the
-- embedded store serves a region's demo and tests, not runs over millions.
SELECT 1;

-- A region's plug-in developers see what the region runs.
INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, v4, v5) VALUES
    ('p', 'plugin_developer', '*', 'plugin', 'read', '*', '*');
UPDATE access_version SET version = version + 1 WHERE id = 1;

-- +goose Down
DELETE FROM casbin_rule WHERE ptype = 'p' AND v0 = 'plugin_developer' AND v2 = 'plugin' AND v3 = 'read';
UPDATE access_version SET version = version + 1 WHERE id = 1;
SELECT 1;
