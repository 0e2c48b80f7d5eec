-- PostgreSQL gets gw_write_scans here: the scan writer's cycle in one round
-- trip. SQLite needs no function for it: the writer runs its cycle as one
-- script on the connection's worker thread (store::testing::write_scans_sqlite).
-- This version keeps the two backends' migration lists alike.
SELECT 1;
