-- flashcharge schema, version 3: the cost of transactions and the log of
-- remote commands.
--
-- A transaction's final cost (by the tariff in force when it stopped) and its
-- currency are stored with its stop; NULL for transactions stopped before
-- this version, and for stops of transactions whose start we never saw.

ALTER TABLE transactions ADD COLUMN cost REAL;
ALTER TABLE transactions ADD COLUMN currency TEXT;

-- Every remote command sent to a charger (REST, or the server's own rules
-- such as the target-SoC stop) with its outcome: the charger's status, its
-- answer, or why there was none (offline, timeout, CALLERROR). params and
-- result are JSON texts with secrets already removed (AuthorizationKey
-- values are never stored). No foreign key: a command to a charger the
-- registry does not know is still logged.
CREATE TABLE commands (
  id           INTEGER PRIMARY KEY,
  charger_id   TEXT NOT NULL,
  command      TEXT NOT NULL,   -- "start", "stop", "limit"…
  action       TEXT,            -- the OCPP action, NULL when none was sent
  params       TEXT,            -- JSON
  status       TEXT NOT NULL,   -- the charger's status, or Offline, Timeout, CallError…
  result       TEXT,            -- JSON: the charger's answer
  error        TEXT,            -- JSON: {"code","description"} of a CALLERROR or bad answer
  by_sub       TEXT,            -- who asked (the token's sub, or "system:…")
  requested_at INTEGER NOT NULL,
  finished_at  INTEGER NOT NULL
);
CREATE INDEX commands_charger ON commands (charger_id, requested_at);
