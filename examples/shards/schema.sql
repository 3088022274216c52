-- Schema of a customers shard: applied to a new shard's database before data arrives.
CREATE TABLE IF NOT EXISTS regions (
  id   INTEGER PRIMARY KEY,
  name TEXT
);
CREATE TABLE IF NOT EXISTS customers (
  id         INTEGER PRIMARY KEY,
  region_id  INTEGER REFERENCES regions(id),
  name       TEXT,
  email      TEXT,
  balance    REAL,
  created_at TEXT
);
CREATE TABLE IF NOT EXISTS orders (
  id          INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  amount      REAL,
  note        TEXT,
  created_at  TEXT
);
CREATE INDEX IF NOT EXISTS orders_customer_id ON orders(customer_id);
