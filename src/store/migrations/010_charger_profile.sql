-- flashcharge schema, version 10: a security profile per charger.
--
-- OCPP 1.6 Security Profiles: 1 = plain ws:// with HTTP Basic auth, 2 = TLS
-- with Basic auth, 3 = TLS with a client certificate (mutual TLS). A charger
-- registered at 2 or 3 is refused on plain ws://, and at 3 without a valid
-- client certificate naming it (no downgrade). 0 = not set: the server takes
-- 1 without TLS and 2 with it.

ALTER TABLE chargers ADD COLUMN security_profile INTEGER NOT NULL DEFAULT 0
  CHECK (security_profile BETWEEN 0 AND 3);

-- The server reloads its registry when the version moves: a new profile
-- applies to the charger's next connection.
CREATE TRIGGER chargers_registry_profile AFTER UPDATE OF security_profile ON chargers
  WHEN OLD.security_profile IS NOT NEW.security_profile
BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'registry_version';
END;
