-- flashcharge schema, version 7: the latest non-late event of each key in a
-- table of its own.
--
-- Start-up folds the latest non-late event of every (charger, type,
-- connector) (fc_store_load_latest_events), and retention never deletes an
-- event older than it. 002 found those with a partial index over every
-- non-late event, keyed by charger: every event added an entry to it, in a
-- leaf of its charger's, so that a batch of writes from 2,000 chargers
-- rewrote some 2,000 leaves of it (about 4 KiB of WAL per message).
--
-- events_latest holds one row per key, the seq of that key's latest non-late
-- event: the writer upserts it in the same transaction as each non-late
-- event. It stays small (chargers x keys, a few dozen bytes a row), so a
-- batch rewrites at most its few pages, however many chargers the batch
-- touches. The fold reads each charger's rows and joins the events by
-- (charger_id, seq); retention deletes an old event when the seq of its key
-- here is larger (the same rule as before: a newer non-late event of the
-- same key exists). A key with only late events has no row, and keeps its
-- events, the charger's latest seq among them.
--
-- Built from the index it replaces (the table takes the index's name, which
-- it can only have once the index is gone).

CREATE TABLE events_latest_new (
  charger_id   TEXT NOT NULL,
  type         TEXT NOT NULL,
  connector_id INTEGER NOT NULL,
  seq          INTEGER NOT NULL,  -- events (charger_id, seq) of the latest non-late event
  PRIMARY KEY (charger_id, type, connector_id)
) WITHOUT ROWID;

INSERT INTO events_latest_new (charger_id, type, connector_id, seq)
SELECT charger_id, type, connector_id, max(seq)
  FROM events
 WHERE late = 0
 GROUP BY charger_id, type, connector_id;

DROP INDEX events_latest;
ALTER TABLE events_latest_new RENAME TO events_latest;
