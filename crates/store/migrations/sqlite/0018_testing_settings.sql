-- A street's testing settings: how its tube barcodes are checked (length and
-- check character, `none` or `luhn`) and the largest pool its lab accepts.
-- The defaults are what every street had before.
ALTER TABLE street ADD COLUMN tube_min_len INTEGER NOT NULL DEFAULT 8;
ALTER TABLE street ADD COLUMN tube_max_len INTEGER NOT NULL DEFAULT 20;
ALTER TABLE street ADD COLUMN tube_check TEXT NOT NULL DEFAULT 'none';
ALTER TABLE street ADD COLUMN lab_max_pool INTEGER NOT NULL DEFAULT 20;
