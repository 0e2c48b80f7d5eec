-- A message can go stale: a robot's test message is for the minute it was
-- asked for, and a call-down list is no use once its slot has ended. Such a
-- message carries the time it expires; the dispatcher no longer posts it
-- after that (state 'expired'). An alert's messages never expire (NULL).
ALTER TABLE notification ADD COLUMN expires_ms BIGINT;
