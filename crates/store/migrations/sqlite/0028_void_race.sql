-- Nothing to change on SQLite: its writes are one at a time (the scan
-- writer's cycle and a take-back each hold the database's write lock), and
-- the scan writer's insert (in `gw_store::testing`) leaves out a client id
-- already taken back. PostgreSQL's 0028 adds the locks it needs for the same.
SELECT 1;
