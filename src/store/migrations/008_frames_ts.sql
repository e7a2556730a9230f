-- flashcharge schema, version 8: the raw frame log is indexed by time, not
-- by charger.
--
-- What an operator asks of the frame log: what a charger sent and was sent
-- around some moment ("CP001's frames of the last hour", to see why it
-- misbehaves), and what went over the wire in some period (an incident).
-- frames_charger (charger_id, ts) answered the first with one seek, but it
-- cost every frame an entry in a leaf of its charger's: with 2,000 chargers
-- a batch rewrote some 2,000 scattered leaves of it, about 4 KiB of WAL per
-- message, for an index read by hand now and then.
--
-- frames_ts (ts) only ever grows at its right end (ts is the arrival time,
-- as the rowids are), so a batch adds its entries to one or two leaves. Both
-- questions are a range of it: a charger's frames of a period are that
-- period's frames filtered by charger_id, which is a bounded scan, in time
-- order:
--   SELECT ts, direction, text FROM frames
--    WHERE ts >= :from AND ts < :to AND charger_id = 'CP001' ORDER BY ts;
-- (about 240,000 frames an hour for 2,000 chargers sending a MeterValues a
-- minute). The frame log has no retention of its own: it grows until an
-- operator deletes from it (by ts, with this index) or turns it off
-- (frame-log = false).
--
-- Creating the index sorts the existing log once: on a large log the
-- upgrade takes a while.

DROP INDEX frames_charger;
CREATE INDEX frames_ts ON frames (ts);
