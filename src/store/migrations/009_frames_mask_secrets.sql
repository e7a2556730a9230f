-- flashcharge schema, version 9: no AuthorizationKey in the frame log.
--
-- Until version 8 the frame log kept every frame as it went over the wire,
-- so an AuthorizationKey set with ChangeConfiguration, or returned in clear
-- by GetConfiguration (MicroOcpp does), stayed in `frames` for
-- --frame-log-days. The server now masks them before anything is written
-- (ocpp/frame.c, fc_ocpp__frame_mask); this rewrites what is already there
-- the same way: the value of a configuration key named AuthorizationKey or
-- BasicAuthPassword (any case) becomes null with "masked": true beside it,
-- in ChangeConfiguration calls and in the configurationKey list of answers,
-- and a frame that names such a key but is not JSON is replaced whole.
--
-- Every frame is looked at once (a LIKE over the table's text, an instr for
-- \u escapes that could spell a key): on a large log the upgrade takes a
-- while. Only frames that name a key, or hold such an escape, are parsed.

UPDATE frames
   SET text = json_set(text, '$[3].value', NULL, '$[3].masked', json('true'))
 WHERE (text LIKE '%authorizationkey%' OR text LIKE '%basicauthpassword%' OR instr(text, '\u') > 0)
   AND json_valid(text)
   AND json_type(text, '$[0]') = 'integer' AND json_extract(text, '$[0]') = 2
   AND json_extract(text, '$[2]') = 'ChangeConfiguration'
   AND lower(json_extract(text, '$[3].key')) IN ('authorizationkey', 'basicauthpassword')
   AND json_type(text, '$[3].value') IS NOT NULL
   AND json_type(text, '$[3].value') <> 'null';

-- An answer's list is rebuilt element by element, in order; json_each gives
-- each element's JSON type, so that strings, booleans and numbers keep theirs.
UPDATE frames
   SET text = json_set(text, '$[2].configurationKey', (
         SELECT json_group_array(
                  CASE
                    WHEN e.type = 'object'
                         AND lower(json_extract(e.value, '$.key')) IN ('authorizationkey', 'basicauthpassword')
                         AND json_type(e.value, '$.value') IS NOT NULL
                         AND json_type(e.value, '$.value') <> 'null'
                      THEN json_set(e.value, '$.value', NULL, '$.masked', json('true'))
                    WHEN e.type IN ('object', 'array') THEN json(e.value)
                    WHEN e.type = 'text' THEN json_quote(e.value)
                    WHEN e.type = 'true' THEN json('true')
                    WHEN e.type = 'false' THEN json('false')
                    ELSE e.value
                  END)
           FROM (SELECT key, type, value FROM json_each(frames.text, '$[2].configurationKey')
                  ORDER BY key) AS e))
 WHERE (text LIKE '%authorizationkey%' OR text LIKE '%basicauthpassword%' OR instr(text, '\u') > 0)
   AND json_valid(text)
   AND json_type(text, '$[0]') = 'integer' AND json_extract(text, '$[0]') = 3
   AND json_type(text, '$[2].configurationKey') = 'array'
   AND EXISTS (SELECT 1 FROM json_each(frames.text, '$[2].configurationKey') AS x
                WHERE x.type = 'object'
                  AND lower(json_extract(x.value, '$.key')) IN ('authorizationkey', 'basicauthpassword')
                  AND json_type(x.value, '$.value') IS NOT NULL
                  AND json_type(x.value, '$.value') <> 'null');

UPDATE frames
   SET text = '[frame withheld: not JSON, and it names a secret configuration key]'
 WHERE (text LIKE '%authorizationkey%' OR text LIKE '%basicauthpassword%')
   AND NOT json_valid(text);
