-- A scan asks whether the person just swabbed has an open single-tube retest
-- (their pool was abnormal): by resident, not by tube.
CREATE INDEX follow_up_resident ON follow_up (street_id, resident_id);
