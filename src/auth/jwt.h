/* JWT verification (UI WebSocket and REST) and minting (`flashcharge token`).
 *
 * The algorithm is pinned by configuration: HS256 with a shared secret, or
 * RS256/ES256 with a PEM public key. A token is accepted only when its header
 * names exactly that algorithm, its signature verifies, and its claims pass:
 *
 *   exp      required, a NumericDate; refused when now >= exp + leeway
 *   nbf      optional; refused when nbf > now + leeway
 *   iat      ignored
 *   iss      when cfg->iss is set: a string equal to it
 *   aud      when cfg->aud is set: a string equal to it, or an array holding it
 *   sub      required: a non-empty string of at most 63 bytes
 *   role     "viewer" | "operator" | "admin"; a token without `role` is a viewer
 *   chargers required: the string "*", or an array (at most 10,000) of
 *            non-empty strings of at most 48 bytes ("*" inside the array is refused)
 *
 * Tokens longer than FC_JWT_MAX_LEN are refused before any decoding. Nothing
 * here logs; the reasons handed back never contain the token. */
#ifndef FC_AUTH_JWT_H
#define FC_AUTH_JWT_H

#include <stdbool.h>
#include <stddef.h>

#define FC_JWT_HS256 1
#define FC_JWT_RS256 2
#define FC_JWT_ES256 3

#define FC_JWT_MAX_LEN 8192       /* longest token accepted, bytes */
#define FC_JWT_SUB_MAX 63         /* longest `sub`, bytes */
#define FC_JWT_CHARGER_MAX 48     /* longest charger id in `chargers`, bytes */
#define FC_JWT_CHARGERS_MAX 10000 /* most entries in `chargers` */
#define FC_JWT_HS_KEY_MIN 32      /* shortest HS256 secret fc_jwt_mint accepts, bytes */
#define FC_JWT_LEEWAY_DEFAULT 30  /* seconds; what the config should default to */

typedef enum { FC_ROLE_VIEWER = 1, FC_ROLE_OPERATOR = 2, FC_ROLE_ADMIN = 3 } fc_role_t;

/* Verification settings. All pointers are borrowed and must outlive the calls
 * that use the struct. leeway_s is used as given: 0 means no clock skew is
 * tolerated (the config's default is FC_JWT_LEEWAY_DEFAULT). */
typedef struct fc_jwt_cfg {
  int alg;                  /* FC_JWT_HS256, FC_JWT_RS256, FC_JWT_ES256 */
  const unsigned char *key; /* HS: secret; RS/ES: PEM public key */
  size_t key_len;
  const char *iss; /* NULL = not checked */
  const char *aud; /* NULL = not checked */
  unsigned leeway_s;
} fc_jwt_cfg_t;

/* Who a verified token speaks for. Filled by fc_jwt_verify, released with
 * fc_principal_cleanup. `chargers` (n_chargers entries, sorted, owned by the
 * struct) is empty when all_chargers is set. */
typedef struct fc_principal {
  char sub[64];
  fc_role_t role;
  bool all_chargers;
  char **chargers;
  size_t n_chargers;
  long long exp;
} fc_principal_t;

/* Verifies token (NUL-terminated, borrowed) against cfg at time now_s (Unix
 * seconds) and fills *out (caller-allocated; release with
 * fc_principal_cleanup whatever the result — it is zeroed on failure).
 *
 * Returns 0; FC_ERR_AUTH for any token that is refused; FC_ERR_INVAL when cfg
 * itself is unusable (no key, unknown alg). On failure *why (when why is not
 * NULL) is a short static reason fit for logs and HTTP bodies ("token
 * expired", "algorithm not allowed"…); it never contains the token.
 * Pure: no I/O, no logging; safe from any thread. */
int fc_jwt_verify(const fc_jwt_cfg_t *cfg, const char *token, long long now_s, fc_principal_t *out,
                  const char **why);

/* Frees what fc_jwt_verify put into p and zeroes it. p may be NULL. */
void fc_principal_cleanup(fc_principal_t *p);

/* True when p may see charger (exact, case-sensitive id match, or "*"). */
bool fc_principal_may_see(const fc_principal_t *p, const char *charger);

/* "HS256" | "RS256" | "ES256" (exact case) → *alg. 0 or FC_ERR_INVAL. */
int fc_jwt_parse_alg(const char *name, int *alg);

/* "HS256" etc. for an FC_JWT_* value; "?" for anything else. Static. */
const char *fc_jwt_alg_name(int alg);

/* "viewer" | "operator" | "admin" → *role. 0 or FC_ERR_INVAL. */
int fc_jwt_parse_role(const char *name, fc_role_t *role);

/* Mints a token: header {"alg","typ":"JWT"}, claims sub, role, chargers,
 * iat = now_s, exp = now_s + ttl_s, and iss/aud when not NULL.
 * key (borrowed) is the HS256 secret (at least FC_JWT_HS_KEY_MIN bytes) or a
 * PEM private key for RS256/ES256. chargers (borrowed, n entries) limits what
 * the holder may see; chargers == NULL with n == 0 means "*".
 * On success *out is the token (caller frees with free()).
 * Returns 0, or FC_ERR_INVAL for a bad argument (short secret, over-long sub
 * or charger id, ttl_s <= 0, unusable key…). */
int fc_jwt_mint(int alg, const unsigned char *key, size_t key_len, const char *sub,
                const char *const *chargers, size_t n, fc_role_t role, long long now_s,
                long long ttl_s, const char *iss, const char *aud, char **out);

#endif
