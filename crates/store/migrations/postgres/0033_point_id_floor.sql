-- Nothing to do on PostgreSQL: a sequence never gives an id twice. (On
-- SQLite this migration keeps a removed testing point's id from being reused.)
SELECT 1;
