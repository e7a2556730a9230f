-- flashcharge schema, version 5: meter values stored one row per reading.
--
-- A reading is one meterValue element of a MeterValues (or of a
-- StopTransaction's transactionData): its time stamp and its sampledValue
-- array, kept as JSON text as the charger sent it (OCPP 1.6's defaults are
-- applied when it is read). Before, every sampled value was a row of its own
-- with two charger-keyed indexes: six values meant six rows and a dozen index
-- entries, and the writer's batches rewrote that many pages per charger.
--
-- Exactly once: a resent reading (same charger, connector, time stamp and
-- sampled values) is stored once. digest is a 64-bit digest of the sampled
-- values with the defaults applied (fc_sampled_digest, a function of the
-- server's own, so that a reading migrated here and the same reading resent
-- by the charger get the same digest); a different reading with the same
-- time stamp is kept beside the first.
--
-- The same key serves the reads: a charger's readings by time, of every
-- connector or of one.

CREATE TABLE meter_readings (
  id             INTEGER PRIMARY KEY,
  charger_id     TEXT NOT NULL,
  connector_id   INTEGER NOT NULL,
  transaction_id INTEGER,
  ts             INTEGER NOT NULL,
  digest         INTEGER NOT NULL,
  sampled        TEXT NOT NULL,   -- JSON: the sampledValue array
  received_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX meter_readings_key ON meter_readings (charger_id, ts, connector_id, digest);

-- The old rows, grouped into readings in the order they were stored (the
-- window keeps the values of a reading in id order, and the readings keep
-- the order of their first value, which the reads use for equal times).
-- The old rows had the defaults filled in; phase and unit were NULL when
-- absent (json_patch leaves out a member whose value is null).
INSERT INTO meter_readings (charger_id, connector_id, transaction_id, ts, digest, sampled,
                            received_at)
SELECT charger_id, connector_id, transaction_id, ts, fc_sampled_digest(sampled), sampled,
       received_at
  FROM (SELECT id, charger_id, connector_id, transaction_id, ts,
               json_group_array(json_patch(
                 json_object('value', value, 'measurand', measurand, 'context', context,
                             'location', location, 'format', format),
                 json_object('phase', phase, 'unit', unit))) OVER reading AS sampled,
               min(received_at) OVER reading AS received_at,
               row_number() OVER (PARTITION BY charger_id, connector_id, ts, transaction_id
                                  ORDER BY id) AS n
          FROM meter_values
        WINDOW reading AS (PARTITION BY charger_id, connector_id, ts, transaction_id ORDER BY id
                           ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING))
 WHERE n = 1
 ORDER BY id;

DROP TABLE meter_values;

-- The sampled values one per row, with OCPP 1.6's defaults, as the table was
-- before (for people and scripts reading the database; the server reads
-- meter_readings). value_num: the value when it is a JSON number.
CREATE VIEW meter_values AS
SELECT r.id AS reading_id, s.key AS sample, r.charger_id, r.connector_id, r.transaction_id, r.ts,
       ifnull(s.value ->> 'measurand', 'Energy.Active.Import.Register') AS measurand,
       s.value ->> 'phase' AS phase,
       ifnull(s.value ->> 'unit',
              CASE WHEN ifnull(s.value ->> 'measurand', 'Energy') GLOB 'Energy*' THEN 'Wh' END)
         AS unit,
       ifnull(s.value ->> 'context', 'Sample.Periodic') AS context,
       ifnull(s.value ->> 'location', 'Outlet') AS location,
       ifnull(s.value ->> 'format', 'Raw') AS format,
       s.value ->> 'value' AS value,
       CASE WHEN json_valid(s.value ->> 'value')
                 AND json_type(s.value ->> 'value') IN ('integer', 'real')
            THEN CAST(s.value ->> 'value' AS REAL) END AS value_num,
       r.received_at
  FROM meter_readings r, json_each(r.sampled) s;
