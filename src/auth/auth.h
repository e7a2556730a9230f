/* Charger credentials (OCPP Security Profile 1).
 *
 * AuthorizationKeys are machine secrets of high entropy, so a salted fast
 * hash is the right tool: HMAC-SHA-256 keyed by a random 16-byte salt, stored
 * as "hmac-sha256$<salt hex>$<mac hex>", compared in constant time. Checking
 * one costs about a microsecond, so a thousand chargers reconnecting at once
 * do not stall the event loop. People's passwords use argon2id instead, off
 * the loop thread (users, later). */
#ifndef FC_AUTH_H
#define FC_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define FC_AUTH_HASH_MAX 128
#define FC_AUTH_KEY_MAX 64 /* longest AuthorizationKey accepted, bytes */
/* Shortest AuthorizationKey a new one may be, bytes (the OCPP 1.6 security
 * whitepaper's minimum). Keys stored before it was enforced still verify. */
#define FC_AUTH_KEY_MIN 16

/* Initialises libsodium. 0, or FC_ERR_CONFIG. Call once, before threads. */
int fc_auth_init(void);

/* Hashes key (len bytes) with a fresh salt into out (>= FC_AUTH_HASH_MAX).
 * Returns 0, or FC_ERR_INVAL for a key shorter than FC_AUTH_KEY_MIN or
 * longer than FC_AUTH_KEY_MAX. */
int fc_auth_key_hash(const char *key, size_t len, char *out, size_t outsz);

/* True when key matches the stored hash. Constant time in the key's content. */
bool fc_auth_key_verify(const char *stored, const char *key, size_t len);

/* Parses an HTTP "Authorization: Basic …" value into user and password
 * (NUL-terminated; the password may contain ':'). Returns 0, or FC_ERR_AUTH
 * when it is not well-formed Basic credentials or does not fit. */
int fc_auth_basic_parse(const char *header, char *user, size_t usersz, char *pass, size_t passsz,
                        size_t *passlen);

/* ---- people's passwords (users.c): argon2id, blocking ----
 * Each call takes about a tenth of a second and 64 MiB: never on the loop
 * thread (the server runs them on libuv's worker threads). */
#define FC_AUTH_PASSWORD_MIN 8    /* shortest password accepted, bytes */
#define FC_AUTH_PASSWORD_MAX 1024 /* longest password accepted, bytes */

/* Hashes password (len bytes) into out (>= FC_AUTH_HASH_MAX): a
 * crypto_pwhash_str string with its own random salt. Returns 0, FC_ERR_INVAL
 * for a password shorter than FC_AUTH_PASSWORD_MIN or longer than
 * FC_AUTH_PASSWORD_MAX, or UV_ENOMEM. */
int fc_auth_password_hash(const char *password, size_t len, char *out, size_t outsz);

/* True when password matches stored (an argon2id crypto_pwhash_str string).
 * Anything else stored (empty, another scheme) never matches. */
bool fc_auth_password_verify(const char *stored, const char *password, size_t len);

/* Costs what fc_auth_password_verify costs, and verifies nothing: for a name
 * that has no user, so that the time of the answer does not tell. */
void fc_auth_password_burn(const char *password, size_t len);

#endif
