-- +goose Up
-- Who a simulated version finds eligible; see the PostgreSQL migration.
CREATE TABLE simulation_outcomes (
    tenant_id      TEXT    NOT NULL,
    simulation_id  TEXT    NOT NULL,
    person_id      TEXT    NOT NULL,
    amount_kopecks INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, simulation_id, person_id),
    FOREIGN KEY (tenant_id, simulation_id) REFERENCES simulations (tenant_id, id) ON DELETE CASCADE
) WITHOUT ROWID;

-- +goose Down
DROP TABLE simulation_outcomes;
