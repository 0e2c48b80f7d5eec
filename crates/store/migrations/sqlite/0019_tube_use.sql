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
