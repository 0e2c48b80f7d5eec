-- The abnormal pool whose households a temporary control order covers: once
-- every retest of a household's members in that alert comes back negative,
-- the order ends (its until_ms is set); orders set by hand have none.
ALTER TABLE control_order ADD COLUMN alert_id BIGINT;
