-- flashcharge schema, version 10: whether a command's call left.
--
-- "Offline" used to cover two cases a client must tell apart: a call that
-- never left (the charger was not connected, or it was still queued when
-- the connection went) and one that was sent, after which the connection
-- closed before the answer (a hard Reset does exactly that; the charger
-- carried it out). The second is now "NoAnswer", and `sent` says which
-- commands reached the charger's connection: 1 (answered, CallError,
-- Timeout, NoAnswer), 0 (Offline, Busy, ShuttingDown), NULL for a command
-- the server carries out itself and for rows written before this version.

ALTER TABLE commands ADD COLUMN sent INTEGER;
