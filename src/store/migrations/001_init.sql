-- flashcharge schema, version 1.
--
-- Time: every *_at and ts column holds INTEGER milliseconds since the Unix
-- epoch (UTC). Payload dates (RFC 3339) are converted on the way in; integers
-- compare and index cheaply, and SQLite's date functions read them with
-- datetime(x / 1000.0, 'unixepoch', 'subsec').
--
-- Only connectors reference chargers with a foreign key (ON DELETE CASCADE):
-- history tables (transactions, meter values, status history, frames...) keep
-- their rows when a charger is removed from the registry.

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value
);
-- Bumped by the triggers below whenever the registry (chargers' ids,
-- credentials or registration) changes, so that a running server notices
-- changes made by the CLI (FC_READ_REGISTRY_VERSION).
INSERT INTO meta (key, value) VALUES ('registry_version', 1);

CREATE TABLE chargers (
  id                 TEXT PRIMARY KEY,
  auth               TEXT,
  registration       TEXT NOT NULL DEFAULT 'Accepted'
                     CHECK (registration IN ('Accepted', 'Pending', 'Rejected')),
  vendor             TEXT,
  model              TEXT,
  serial_number      TEXT,
  charge_box_serial  TEXT,
  firmware_version   TEXT,
  iccid              TEXT,
  imsi               TEXT,
  meter_type         TEXT,
  meter_serial       TEXT,
  last_boot_at       INTEGER,
  online             INTEGER NOT NULL DEFAULT 0,
  conn_id            INTEGER,
  last_seen_at       INTEGER,
  last_heartbeat_at  INTEGER,
  firmware_status    TEXT,
  firmware_status_at INTEGER,
  diagnostics_status TEXT,
  diagnostics_status_at INTEGER,
  created_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL
);

CREATE TRIGGER chargers_registry_ins AFTER INSERT ON chargers BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'registry_version';
END;
CREATE TRIGGER chargers_registry_del AFTER DELETE ON chargers BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'registry_version';
END;
CREATE TRIGGER chargers_registry_upd AFTER UPDATE OF auth, registration ON chargers
  WHEN OLD.auth IS NOT NEW.auth OR OLD.registration IS NOT NEW.registration
BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'registry_version';
END;

-- Connection log: one row per connect / disconnect.
CREATE TABLE connections (
  id          INTEGER PRIMARY KEY,
  charger_id  TEXT NOT NULL,
  conn_id     INTEGER,
  online      INTEGER NOT NULL,
  ts          INTEGER NOT NULL
);
CREATE INDEX connections_charger ON connections (charger_id, ts);

-- Current state per connector (0 = the charger as a whole). status_at is the
-- notification's own time stamp: an older notification never overwrites it.
CREATE TABLE connectors (
  charger_id        TEXT NOT NULL REFERENCES chargers (id) ON DELETE CASCADE,
  connector_id      INTEGER NOT NULL,
  status            TEXT,
  error_code        TEXT,
  info              TEXT,
  vendor_id         TEXT,
  vendor_error_code TEXT,
  status_at         INTEGER,
  updated_at        INTEGER NOT NULL,
  PRIMARY KEY (charger_id, connector_id)
);

-- Every StatusNotification as received; stale = 1 when it was older than the
-- connector's status at the time it arrived.
CREATE TABLE status_history (
  id                INTEGER PRIMARY KEY,
  charger_id        TEXT NOT NULL,
  connector_id      INTEGER NOT NULL,
  status            TEXT,
  error_code        TEXT,
  info              TEXT,
  vendor_id         TEXT,
  vendor_error_code TEXT,
  status_at         INTEGER NOT NULL,
  received_at       INTEGER NOT NULL,
  stale             INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX status_history_connector ON status_history (charger_id, connector_id, status_at);

CREATE TABLE id_tags (
  id_tag        TEXT PRIMARY KEY,
  status        TEXT NOT NULL DEFAULT 'Accepted',
  expiry        INTEGER,
  parent_id_tag TEXT,
  updated_at    INTEGER
);

-- start_at / meter_start / id_tag are NULL for a transaction known only from
-- its StopTransaction.
CREATE TABLE transactions (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  charger_id     TEXT NOT NULL,
  connector_id   INTEGER NOT NULL,
  id_tag         TEXT,
  start_at       INTEGER,
  meter_start    INTEGER,
  reservation_id INTEGER,
  id_tag_status  TEXT,
  stop_at        INTEGER,
  meter_stop     INTEGER,
  stop_reason    TEXT,
  stop_id_tag    TEXT,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER
);
-- A retried StartTransaction (same payload, new message id) finds its row.
CREATE UNIQUE INDEX transactions_start
  ON transactions (charger_id, connector_id, id_tag, start_at, meter_start);
CREATE INDEX transactions_charger ON transactions (charger_id, start_at);

-- One row per sampled value. Defaults from OCPP 1.6 are filled in when the
-- charger leaves a field out. phase is NULL when absent; the dedupe index
-- treats NULL phases as equal.
CREATE TABLE meter_values (
  id             INTEGER PRIMARY KEY,
  charger_id     TEXT NOT NULL,
  connector_id   INTEGER NOT NULL,
  transaction_id INTEGER,
  ts             INTEGER NOT NULL,
  measurand      TEXT NOT NULL DEFAULT 'Energy.Active.Import.Register',
  phase          TEXT,
  unit           TEXT,
  context        TEXT NOT NULL DEFAULT 'Sample.Periodic',
  location       TEXT NOT NULL DEFAULT 'Outlet',
  format         TEXT NOT NULL DEFAULT 'Raw',
  value          TEXT NOT NULL,
  value_num      REAL,
  received_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX meter_values_dedupe
  ON meter_values (charger_id, connector_id, ts, measurand, ifnull(phase, ''), location, context);
CREATE INDEX meter_values_tx ON meter_values (transaction_id) WHERE transaction_id IS NOT NULL;

CREATE TABLE data_transfers (
  id          INTEGER PRIMARY KEY,
  charger_id  TEXT NOT NULL,
  vendor_id   TEXT,
  message_id  TEXT,
  data        TEXT,
  status      TEXT,
  received_at INTEGER NOT NULL
);

-- Raw OCPP-J frames, both directions.
CREATE TABLE frames (
  id         INTEGER PRIMARY KEY,
  ts         INTEGER NOT NULL,
  charger_id TEXT NOT NULL,
  conn_id    INTEGER,
  direction  TEXT NOT NULL CHECK (direction IN ('in', 'out')),
  text       TEXT NOT NULL
);
CREATE INDEX frames_charger ON frames (charger_id, ts);

-- The circuit breaker's probe writes land here (one row).
CREATE TABLE probe (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  n  INTEGER NOT NULL,
  at INTEGER NOT NULL
);
