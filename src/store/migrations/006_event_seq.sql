-- flashcharge schema, version 6: a charger's event sequence is read from its
-- events.
--
-- The latest seq of a charger is the largest among its events: retention
-- never deletes that one (it deletes only events that a newer one of the same
-- kind makes redundant), and the (charger_id, seq) index finds it in one
-- seek. chargers.event_seq, which every event updated (a write to the
-- chargers table, one page per some twenty chargers, in every batch), goes,
-- and so does the trigger that carried it over when a removed charger came
-- back: its events carry it now.

DROP TRIGGER chargers_event_seq;
ALTER TABLE chargers DROP COLUMN event_seq;
