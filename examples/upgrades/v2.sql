-- contoso V2: accounts get a tier, invoices a currency, and the schema
-- version moves to 2. Runs in one transaction on the staging copy.
ALTER TABLE accounts ADD COLUMN tier TEXT NOT NULL DEFAULT 'standard';
UPDATE accounts SET tier = 'premium' WHERE plan IN ('business', 'enterprise');
ALTER TABLE invoices ADD COLUMN currency TEXT NOT NULL DEFAULT 'EUR';
CREATE INDEX IF NOT EXISTS invoices_account_id ON invoices(account_id);
UPDATE schema_version SET version = 2;
