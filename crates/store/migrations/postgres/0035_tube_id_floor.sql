-- Nothing to do on PostgreSQL: a sequence never gives an id twice. (On
-- SQLite this migration keeps a withdrawn tube's id from being reused.)
SELECT 1;
