-- A V2 script with a mistake half-way: the first statements succeed, the
-- fourth names a table that does not exist. The whole script is one
-- transaction, so none of it is kept.
ALTER TABLE accounts ADD COLUMN tier TEXT NOT NULL DEFAULT 'standard';
UPDATE schema_version SET version = 2;
UPDATE accounts SET tier = 'premium' WHERE plan IN ('business', 'enterprise');
UPDATE account_tiers SET tier = 'premium';
CREATE INDEX IF NOT EXISTS invoices_account_id ON invoices(account_id);
