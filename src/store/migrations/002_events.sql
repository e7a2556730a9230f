-- flashcharge schema, version 2: the bus's events.
--
-- Every event is stored with the write that raised it (FC_OP_EVENT), so that
-- it commits, or not, with the data it reports. seq is per charger, taken from
-- chargers.event_seq (incremented in the same transaction): committed events
-- have gap-free sequence numbers, and a client resumes with "since".
--
-- The writer prunes events older than the retention (7 days by default), but
-- never the latest non-late event of a (charger, type, connector): start-up
-- folds those to rebuild the read model (fc_store_load_latest_events).

ALTER TABLE chargers ADD COLUMN event_seq INTEGER NOT NULL DEFAULT 0;

CREATE TABLE events (
  id           INTEGER PRIMARY KEY,
  charger_id   TEXT NOT NULL,
  seq          INTEGER NOT NULL,
  type         TEXT NOT NULL,
  connector_id INTEGER NOT NULL,
  ts           INTEGER NOT NULL,  -- the event's own time, ms since the epoch
  late         INTEGER NOT NULL DEFAULT 0,
  json         TEXT NOT NULL,     -- the event as sent to clients
  UNIQUE (charger_id, seq)        -- also serves "events of a charger since seq"
);
-- The latest non-late event per (charger, type, connector): one seek each,
-- and the keys themselves by skipping from one to the next.
CREATE INDEX events_latest ON events (charger_id, type, connector_id, seq) WHERE late = 0;
-- Retention: the oldest first.
CREATE INDEX events_ts ON events (ts);

-- A charger removed from the registry keeps its events; if it comes back,
-- its sequence continues after them instead of colliding with them.
CREATE TRIGGER chargers_event_seq AFTER INSERT ON chargers
  WHEN EXISTS (SELECT 1 FROM events WHERE charger_id = NEW.id)
BEGIN
  UPDATE chargers SET event_seq = (SELECT max(seq) FROM events WHERE charger_id = NEW.id)
   WHERE id = NEW.id;
END;

-- Meter-value history of a charger over all its connectors, by time
-- (FC_READ_METER_VALUES; meter_values_dedupe serves one connector).
CREATE INDEX meter_values_charger_ts ON meter_values (charger_id, ts);
