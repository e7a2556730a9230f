-- flashcharge schema, version 4: the people who sign in to the web UI.
--
-- password_hash is libsodium's crypto_pwhash_str output (argon2id, with its
-- own salt and cost parameters); the password itself is never stored.
-- role is what the JWT minted at sign-in carries.

CREATE TABLE users (
  name          TEXT PRIMARY KEY,
  password_hash TEXT NOT NULL,
  role          TEXT NOT NULL DEFAULT 'viewer'
                CHECK (role IN ('viewer', 'operator', 'admin')),
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
