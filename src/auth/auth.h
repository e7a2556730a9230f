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

/* Initialises libsodium. 0, or FC_ERR_CONFIG. Call once, before threads. */
int fc_auth_init(void);

/* Hashes key (len bytes) with a fresh salt into out (>= FC_AUTH_HASH_MAX).
 * Returns 0, or FC_ERR_INVAL for an empty or over-long key. */
int fc_auth_key_hash(const char *key, size_t len, char *out, size_t outsz);

/* True when key matches the stored hash. Constant time in the key's content. */
bool fc_auth_key_verify(const char *stored, const char *key, size_t len);

/* Parses an HTTP "Authorization: Basic …" value into user and password
 * (NUL-terminated; the password may contain ':'). Returns 0, or FC_ERR_AUTH
 * when it is not well-formed Basic credentials or does not fit. */
int fc_auth_basic_parse(const char *header, char *user, size_t usersz, char *pass, size_t passsz,
                        size_t *passlen);

#endif
