-- What a tube was opened for: `pool` (routine and door-to-door swabs),
-- `retest` (one swab) or `resample`. A swab of another purpose put into it is
-- stored and flagged. Tubes opened before this column were pools.
ALTER TABLE tube ADD COLUMN tube_use TEXT NOT NULL DEFAULT 'pool'
    CHECK (tube_use IN ('pool', 'retest', 'resample'));
-- Tubes that already held a retest or re-sample swab were opened for it.
UPDATE tube SET tube_use = 'retest'
    WHERE EXISTS (SELECT 1 FROM registration g WHERE g.street_id = tube.street_id AND g.tube_id = tube.id AND g.purpose = 'retest');
UPDATE tube SET tube_use = 'resample'
    WHERE tube_use = 'pool'
      AND EXISTS (SELECT 1 FROM registration g WHERE g.street_id = tube.street_id AND g.tube_id = tube.id AND g.purpose = 'resample');

-- The scan writer's cycle (0016) now stores each opened tube's use.
DROP FUNCTION gw_write_scans(BIGINT[], BIGINT[], BIGINT[], TEXT[], INTEGER[], BIGINT[],
    BIGINT[], TEXT[], BIGINT[], BIGINT[], BIGINT[], BIGINT[], TEXT[], TEXT[], BIGINT[], TEXT[], BIGINT[], BIGINT[], TEXT[]);

CREATE FUNCTION gw_write_scans(
    t_street BIGINT[], t_round BIGINT[], t_point BIGINT[], t_barcode TEXT[], t_pool INTEGER[], t_ms BIGINT[], t_use TEXT[],
    r_street BIGINT[], r_client TEXT[], r_round BIGINT[], r_point BIGINT[], r_tube BIGINT[], r_resident BIGINT[],
    r_raw TEXT[], r_purpose TEXT[], r_duplicate BIGINT[], r_problem TEXT[], r_scanned BIGINT[], r_stored BIGINT[],
    r_station TEXT[])
RETURNS TABLE (o_kind INTEGER, o_street BIGINT, o_id BIGINT, o_text TEXT, o_n BIGINT)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    INSERT INTO tube AS x (street_id, round_id, point_id, barcode, state, pool_size, opened_ms, tube_use)
    SELECT u.s, u.r, u.p, u.b, 'open', u.k, u.m, u.w
    FROM unnest(t_street, t_round, t_point, t_barcode, t_pool, t_ms, t_use) AS u(s, r, p, b, k, m, w)
    ON CONFLICT DO NOTHING
    RETURNING 0, x.street_id, x.id, x.barcode, x.round_id;

    RETURN QUERY
    INSERT INTO registration AS x (street_id, client_id, round_id, point_id, tube_id, resident_id, raw_code,
        purpose, duplicate_of, problem, scanned_ms, stored_ms, station)
    SELECT * FROM unnest(r_street, r_client, r_round, r_point, r_tube, r_resident, r_raw, r_purpose,
        r_duplicate, r_problem, r_scanned, r_stored, r_station)
    ON CONFLICT DO NOTHING
    RETURNING 1, x.street_id, x.id, x.client_id, CAST(0 AS BIGINT);

    -- One key lookup per tube and point (LIMIT 1 keeps each a lookup: as a
    -- plain join the planner may hash the whole table, and this function's
    -- plan is kept for the connection's life while the tables grow).
    RETURN QUERY
    SELECT 2, t.street_id, t.id, '', t.fill
    FROM (SELECT DISTINCT k.s, k.i FROM unnest(r_street, r_tube) AS k(s, i)) k
    CROSS JOIN LATERAL (SELECT x.street_id, x.id, x.fill FROM tube x WHERE x.street_id = k.s AND x.id = k.i LIMIT 1) t;

    RETURN QUERY
    SELECT 3, p.street_id, p.id, '', p.swabs
    FROM (SELECT DISTINCT k.s, k.i FROM unnest(r_street, r_point) AS k(s, i)) k
    CROSS JOIN LATERAL (SELECT x.street_id, x.id, x.swabs FROM testing_point x WHERE x.street_id = k.s AND x.id = k.i LIMIT 1) p;
END
$$;
