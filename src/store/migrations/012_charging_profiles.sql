-- flashcharge schema, version 11: the charging profiles each charger was told.
--
-- One row per profile in force at a charger, as far as our own commands
-- know: written when the charger answers Accepted to a SetChargingProfile
-- (or to a RemoteStartTransaction that carried one), in the same commit as
-- the command's record. A profile replaces the one with the same
-- chargingProfileId, and the one with the same stack level and purpose on
-- the same connector, as OCPP 1.6 says the charger does. A
-- ClearChargingProfile answered Accepted deletes what it names (by id, or
-- by connector, purpose and stack level; nothing named: all). profile is
-- the csChargingProfiles object as sent (JSON). connector_id is NULL for a
-- RemoteStartTransaction that let the charger choose.
CREATE TABLE charging_profiles (
  charger_id     TEXT NOT NULL,
  profile_id     INTEGER NOT NULL,
  connector_id   INTEGER,
  stack_level    INTEGER NOT NULL,
  purpose        TEXT NOT NULL,   -- ChargePointMaxProfile, TxDefaultProfile, TxProfile
  kind           TEXT NOT NULL,   -- Absolute, Recurring, Relative
  unit           TEXT NOT NULL,   -- A or W
  transaction_id INTEGER,
  profile        TEXT NOT NULL,   -- JSON
  set_by         TEXT,            -- who asked (the token's sub, or "system:…")
  set_at         INTEGER NOT NULL,
  PRIMARY KEY (charger_id, profile_id)
);
