/* People's passwords (the web UI's users).
 *
 * Unlike chargers' AuthorizationKeys (charger_key.c), passwords chosen by
 * people have little entropy, so they get a slow, memory-hard hash: argon2id
 * through libsodium's crypto_pwhash_str, at its "interactive" limits (about
 * 64 MiB and a tenth of a second). That is far too slow for the loop thread:
 * every function here blocks, and the server calls them from libuv's worker
 * threads (api/login.c) only.
 *
 * A sign-in for a name that does not exist verifies against a dummy hash, so
 * that it costs what a wrong password costs: the answer's timing does not
 * tell which names exist. */
#include "auth/auth.h"

#include "core/err.h"

#include <sodium.h>
#include <string.h>
#include <uv.h> /* UV_ENOMEM */

/* The hash of a random password nobody knows (made once, with the same
 * limits as ours, and thrown away): verifying against it costs what a real
 * verification costs, without computing a hash at run time. */
static const char dummy_hash[crypto_pwhash_STRBYTES] =
    "$argon2id$v=19$m=65536,t=2,p=1$QY1agjfnsAwf8smikbmwEA$"
    "rHN3TgVHBtqNUaVRLZnzIcFu6ZiCCLa7XdeRo4FQjR4";

int fc_auth_password_hash(const char *password, size_t len, char *out, size_t outsz)
{
  if (len < FC_AUTH_PASSWORD_MIN || len > FC_AUTH_PASSWORD_MAX || outsz < crypto_pwhash_STRBYTES)
    return FC_ERR_INVAL;
  if (crypto_pwhash_str(out, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    return UV_ENOMEM; /* libsodium's only failure here: the memory it needs */
  return 0;
}

bool fc_auth_password_verify(const char *stored, const char *password, size_t len)
{
  if (!stored || !password || len > FC_AUTH_PASSWORD_MAX) return false;
  if (strncmp(stored, crypto_pwhash_argon2id_STRPREFIX, strlen(crypto_pwhash_argon2id_STRPREFIX)))
    return false;
  return crypto_pwhash_str_verify(stored, password, len) == 0;
}

void fc_auth_password_burn(const char *password, size_t len)
{
  if (len <= FC_AUTH_PASSWORD_MAX && crypto_pwhash_str_verify(dummy_hash, password, len) == 0)
    return; /* nobody knows that password */
}
