-- SQLite twin of migrations/postgres/0036_resident_left.sql: a resident who
-- has left (status 'left': deceased, or moved out of the street) keeps their
-- data with why and when; a round's expected resident who moved out of the
-- round's communities while it sampled is marked (counted apart, not missed).
ALTER TABLE resident ADD COLUMN left_reason TEXT;
ALTER TABLE resident ADD COLUMN left_on TEXT;
ALTER TABLE resident ADD COLUMN left_ms INTEGER;
ALTER TABLE round_expected ADD COLUMN moved_out_ms INTEGER;
