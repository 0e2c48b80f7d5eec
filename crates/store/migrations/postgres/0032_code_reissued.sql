-- When a resident's personal code was last reissued (the generation before
-- it revoked). An offline station's swab synced later, taken with the code
-- revoked by that reissue but before it, still counts for its person.
ALTER TABLE resident ADD COLUMN code_reissued_ms BIGINT;
