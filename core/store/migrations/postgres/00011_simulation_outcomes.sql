-- +goose Up
-- Who a simulated version finds eligible, and for how much: the list behind
-- a simulation's counts (ids and amounts only).
CREATE TABLE simulation_outcomes (
    tenant_id      uuid   NOT NULL,
    simulation_id  uuid   NOT NULL,
    person_id      uuid   NOT NULL,
    amount_kopecks bigint NOT NULL,
    PRIMARY KEY (tenant_id, simulation_id, person_id),
    FOREIGN KEY (tenant_id, simulation_id) REFERENCES simulations (tenant_id, id) ON DELETE CASCADE
);
ALTER TABLE simulation_outcomes ENABLE ROW LEVEL SECURITY;
ALTER TABLE simulation_outcomes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON simulation_outcomes
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- +goose Down
DROP TABLE simulation_outcomes;
