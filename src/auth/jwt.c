/* JWT verification and minting on libjwt 1.10 (Debian 12).
 *
 * Why the algorithm is checked before libjwt sees the token: jwt_decode() in
 * libjwt 1.10 takes the algorithm from the token's own header and uses
 * whatever key it is handed for that algorithm. A server configured for RS256
 * hands it the RSA public key PEM; a token whose header says HS256 and whose
 * HMAC was computed with that (public!) PEM as the secret then verifies — the
 * classic algorithm-confusion forgery. A header saying "none" is the other
 * half of the same problem. libjwt 1.10 has no way to say "only this
 * algorithm", so we do it in front of it: the header segment is
 * base64url-decoded and parsed here with jansson (duplicate keys refused, so
 * we and libjwt cannot read different "alg" values), and the token goes on to
 * jwt_decode() only when its alg is exactly the configured one, together with
 * the configured algorithm's key only. After jwt_decode() the algorithm is
 * checked once more with jwt_get_alg().
 *
 * The claims are then read from the signed payload segment with our own
 * strict parse (duplicate keys refused, types checked), not through
 * jwt_get_grant*(), whose "missing" and "wrong type" answers look alike.
 *
 * Limits come before work: a token over FC_JWT_MAX_LEN bytes, or with any
 * byte outside the base64url alphabet and the two dots, is refused before
 * anything is decoded, so every allocation below is bounded by 8 KiB of input.
 * Nothing here logs, and the reasons handed back are static strings. */
#include "auth/jwt.h"

#include "core/err.h"
#include "core/mem.h"

#include <jansson.h>
#include <jwt.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FAIL(reason)                                                                               \
  do {                                                                                             \
    *why = (reason);                                                                               \
    rc = FC_ERR_AUTH;                                                                              \
    goto fail;                                                                                     \
  } while (0)

static const struct {
  int fc;
  jwt_alg_t lib;
  const char *name;
} algs[] = {
    {FC_JWT_HS256, JWT_ALG_HS256, "HS256"},
    {FC_JWT_RS256, JWT_ALG_RS256, "RS256"},
    {FC_JWT_ES256, JWT_ALG_ES256, "ES256"},
};

static const char *const roles[] = {NULL, "viewer", "operator", "admin"};

int fc_jwt_parse_alg(const char *name, int *alg)
{
  for (size_t i = 0; name && i < FC_ARRAY_SIZE(algs); i++)
    if (strcmp(name, algs[i].name) == 0) {
      *alg = algs[i].fc;
      return 0;
    }
  return FC_ERR_INVAL;
}

const char *fc_jwt_alg_name(int alg)
{
  for (size_t i = 0; i < FC_ARRAY_SIZE(algs); i++)
    if (algs[i].fc == alg) return algs[i].name;
  return "?";
}

static int lib_alg(int alg, jwt_alg_t *out)
{
  for (size_t i = 0; i < FC_ARRAY_SIZE(algs); i++)
    if (algs[i].fc == alg) {
      *out = algs[i].lib;
      return 0;
    }
  return FC_ERR_INVAL;
}

int fc_jwt_parse_role(const char *name, fc_role_t *role)
{
  for (int r = FC_ROLE_VIEWER; name && r <= FC_ROLE_ADMIN; r++)
    if (strcmp(name, roles[r]) == 0) {
      *role = (fc_role_t)r;
      return 0;
    }
  return FC_ERR_INVAL;
}

/* ---- base64url ---------------------------------------------------------- */

static int b64url_val(unsigned char c)
{
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

/* Decodes unpadded base64url s[0..n) into a fresh buffer (caller frees) of
 * *outlen bytes. Strict: only the url-safe alphabet, no padding, no
 * impossible length, unused trailing bits zero. NULL when malformed. */
static unsigned char *b64url_decode(const char *s, size_t n, size_t *outlen)
{
  if (n % 4 == 1) return NULL;
  unsigned char *out = fc_malloc(n / 4 * 3 + 3);
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;

  for (size_t i = 0; i < n; i++) {
    int v = b64url_val((unsigned char)s[i]);
    if (v < 0) goto bad;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) goto bad; /* non-canonical: leftover bits must be zero */
  *outlen = o;
  return out;
bad:
  fc_free(out);
  return NULL;
}

/* Parses a base64url segment as a JSON object (duplicate keys refused). */
static json_t *segment_json(const char *s, size_t n)
{
  size_t len;
  unsigned char *raw = b64url_decode(s, n, &len);
  if (!raw) return NULL;
  json_t *j = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
  fc_free(raw);
  if (j && !json_is_object(j)) {
    json_decref(j);
    return NULL;
  }
  return j;
}

/* ---- claims -------------------------------------------------------------- */

/* A JSON string without embedded NULs, 1..max bytes. */
static const char *str_claim(json_t *v, size_t max)
{
  if (!json_is_string(v)) return NULL;
  const char *s = json_string_value(v);
  size_t n = json_string_length(v);
  if (n == 0 || n > max || strlen(s) != n) return NULL;
  return s;
}

/* NumericDate: a JSON integer, or a real (seconds with a fraction, floored),
 * within a sane range so nothing below can overflow. */
static int numeric_date(json_t *v, long long *out)
{
  const long long lim = 100000000000LL; /* year ~5138 */
  long long t;

  if (json_is_integer(v)) {
    t = (long long)json_integer_value(v);
  } else if (json_is_real(v)) {
    double d = json_real_value(v);
    if (!(d > (double)-lim && d < (double)lim)) return -1;
    t = (long long)d;
    if ((double)t > d) t--;
  } else {
    return -1;
  }
  if (t <= -lim || t >= lim) return -1;
  *out = t;
  return 0;
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int claims(const fc_jwt_cfg_t *cfg, json_t *c, long long now, fc_principal_t *out,
                  const char **why)
{
  long long lw = (long long)cfg->leeway_s, t;
  json_t *v;
  const char *s;
  int rc = 0;

  /* exp: required. Valid while now < exp (+ leeway). */
  v = json_object_get(c, "exp");
  if (!v) FAIL("exp claim missing");
  if (numeric_date(v, &t) != 0) FAIL("exp claim invalid");
  if (now - lw >= t) FAIL("token expired");
  out->exp = t;

  /* nbf: optional. */
  v = json_object_get(c, "nbf");
  if (v) {
    if (numeric_date(v, &t) != 0) FAIL("nbf claim invalid");
    if (t > now + lw) FAIL("token not yet valid");
  }

  if (cfg->iss) {
    v = json_object_get(c, "iss");
    if (!json_is_string(v) || strcmp(json_string_value(v), cfg->iss) != 0 ||
        strlen(cfg->iss) != json_string_length(v))
      FAIL("issuer mismatch");
  }

  if (cfg->aud) {
    bool ok = false;
    v = json_object_get(c, "aud");
    if (json_is_string(v)) {
      ok = strcmp(json_string_value(v), cfg->aud) == 0 && strlen(cfg->aud) == json_string_length(v);
    } else if (json_is_array(v)) {
      size_t i;
      json_t *e;
      json_array_foreach(v, i, e)
      {
        if (json_is_string(e) && strcmp(json_string_value(e), cfg->aud) == 0 &&
            strlen(cfg->aud) == json_string_length(e))
          ok = true;
      }
    }
    if (!ok) FAIL("audience mismatch");
  }

  s = str_claim(json_object_get(c, "sub"), FC_JWT_SUB_MAX);
  if (!s) FAIL("sub claim missing or invalid");
  memcpy(out->sub, s, strlen(s) + 1);

  /* role: a token without one is a viewer, the least privilege; a role we do
   * not know is refused rather than guessed at. */
  v = json_object_get(c, "role");
  if (!v) {
    out->role = FC_ROLE_VIEWER;
  } else if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
             fc_jwt_parse_role(json_string_value(v), &out->role) != 0) {
    FAIL("role claim invalid");
  }

  v = json_object_get(c, "chargers");
  if (!v) FAIL("chargers claim missing");
  if (json_is_string(v)) {
    if (json_string_length(v) != 1 || strcmp(json_string_value(v), "*") != 0)
      FAIL("chargers claim invalid");
    out->all_chargers = true;
  } else if (json_is_array(v)) {
    size_t n = json_array_size(v), i;
    json_t *e;
    if (n > FC_JWT_CHARGERS_MAX) FAIL("chargers claim too long");
    json_array_foreach(v, i, e)
    {
      s = str_claim(e, FC_JWT_CHARGER_MAX);
      if (!s || strcmp(s, "*") == 0) FAIL("chargers claim invalid");
    }
    out->chargers = n ? fc_calloc(n, sizeof(*out->chargers)) : NULL;
    for (i = 0; i < n; i++) {
      out->chargers[i] = fc_strdup(json_string_value(json_array_get(v, i)));
      out->n_chargers++;
    }
    if (n > 1) qsort(out->chargers, n, sizeof(*out->chargers), cmp_str);
  } else {
    FAIL("chargers claim invalid");
  }
  return 0;
fail:
  return rc;
}

/* ---- verify --------------------------------------------------------------- */

int fc_jwt_verify(const fc_jwt_cfg_t *cfg, const char *token, long long now_s, fc_principal_t *out,
                  const char **why)
{
  const char *dummy, *dot1, *dot2;
  json_t *head = NULL, *body = NULL, *v;
  jwt_t *jwt = NULL;
  jwt_alg_t want;
  size_t len;
  int rc;

  if (!why) why = &dummy;
  *why = NULL;
  memset(out, 0, sizeof(*out));

  if (!cfg || lib_alg(cfg->alg, &want) != 0 || !cfg->key || cfg->key_len == 0 ||
      cfg->key_len > INT_MAX) {
    *why = "server JWT configuration invalid";
    return FC_ERR_INVAL;
  }
  if (!token || !*token) FAIL("no token");

  /* Size and shape first: nothing is decoded for a token that is too long or
   * is not three non-empty base64url segments. */
  len = strnlen(token, FC_JWT_MAX_LEN + 1);
  if (len > FC_JWT_MAX_LEN) FAIL("token too long");
  dot1 = dot2 = NULL;
  for (size_t i = 0; i < len; i++) {
    if (token[i] == '.') {
      if (!dot1)
        dot1 = token + i;
      else if (!dot2)
        dot2 = token + i;
      else
        FAIL("malformed token");
    } else if (b64url_val((unsigned char)token[i]) < 0) {
      FAIL("malformed token");
    }
  }
  if (!dot2 || dot1 == token || dot2 == dot1 + 1 || dot2 + 1 == token + len)
    FAIL("malformed token");

  /* The header, read by us: alg must be exactly the configured one. */
  head = segment_json(token, (size_t)(dot1 - token));
  if (!head) FAIL("malformed token header");
  v = json_object_get(head, "alg");
  if (!json_is_string(v) || json_string_length(v) != strlen(fc_jwt_alg_name(cfg->alg)) ||
      strcmp(json_string_value(v), fc_jwt_alg_name(cfg->alg)) != 0)
    FAIL("algorithm not allowed");
  v = json_object_get(head, "typ");
  if (v && (!json_is_string(v) || strcasecmp(json_string_value(v), "JWT") != 0))
    FAIL("unsupported token type");
  if (json_object_get(head, "crit")) FAIL("unsupported critical header");

  /* The payload is parsed here too, but nothing in it is acted on before the
   * signature has been checked; parsing first only makes the reason exact. */
  body = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
  if (!body) FAIL("malformed token payload");

  /* Only now libjwt, with the configured algorithm's key only. */
  if (jwt_decode(&jwt, token, cfg->key, (int)cfg->key_len) != 0 || !jwt) FAIL("invalid signature");
  if (jwt_get_alg(jwt) != want) FAIL("algorithm not allowed");

  rc = claims(cfg, body, now_s, out, why);
  if (rc != 0) goto fail;

  json_decref(head);
  json_decref(body);
  jwt_free(jwt);
  return 0;

fail:
  json_decref(head);
  json_decref(body);
  if (jwt) jwt_free(jwt);
  fc_principal_cleanup(out);
  return rc;
}

void fc_principal_cleanup(fc_principal_t *p)
{
  if (!p) return;
  for (size_t i = 0; i < p->n_chargers; i++)
    fc_free(p->chargers[i]);
  fc_free(p->chargers);
  memset(p, 0, sizeof(*p));
}

bool fc_principal_may_see(const fc_principal_t *p, const char *charger)
{
  if (!p || !charger) return false;
  if (p->all_chargers) return true;
  if (p->n_chargers == 0) return false;
  return bsearch(&charger, p->chargers, p->n_chargers, sizeof(*p->chargers), cmp_str) != NULL;
}

/* ---- mint ------------------------------------------------------------------ */

static bool id_ok(const char *s, size_t max)
{
  size_t n = s ? strnlen(s, max + 1) : 0;
  return n > 0 && n <= max;
}

int fc_jwt_mint(int alg, const unsigned char *key, size_t key_len, const char *sub,
                const char *const *chargers, size_t n, fc_role_t role, long long now_s,
                long long ttl_s, const char *iss, const char *aud, char **out)
{
  json_t *c = NULL, *list;
  jwt_t *jwt = NULL;
  char *claims_json = NULL, *tok;
  jwt_alg_t la;
  int rc = FC_ERR_INVAL;

  *out = NULL;
  if (lib_alg(alg, &la) != 0 || !key || key_len == 0 || key_len > INT_MAX) return FC_ERR_INVAL;
  if (alg == FC_JWT_HS256 && key_len < FC_JWT_HS_KEY_MIN) return FC_ERR_INVAL;
  if (!id_ok(sub, FC_JWT_SUB_MAX) || role < FC_ROLE_VIEWER || role > FC_ROLE_ADMIN)
    return FC_ERR_INVAL;
  if (ttl_s <= 0 || now_s < 0 || ttl_s > LLONG_MAX - now_s) return FC_ERR_INVAL;
  if (n > FC_JWT_CHARGERS_MAX || (n > 0 && !chargers)) return FC_ERR_INVAL;
  for (size_t i = 0; i < n; i++)
    if (!id_ok(chargers[i], FC_JWT_CHARGER_MAX) || strcmp(chargers[i], "*") == 0)
      return FC_ERR_INVAL;

  c = json_object();
  json_object_set_new(c, "sub", json_string(sub));
  json_object_set_new(c, "role", json_string(roles[role]));
  if (!chargers && n == 0) {
    json_object_set_new(c, "chargers", json_string("*"));
  } else {
    list = json_array();
    for (size_t i = 0; i < n; i++)
      json_array_append_new(list, json_string(chargers[i]));
    if (json_array_size(list) != n) {
      json_decref(list);
      goto done;
    }
    json_object_set_new(c, "chargers", list);
  }
  json_object_set_new(c, "iat", json_integer(now_s));
  json_object_set_new(c, "exp", json_integer(now_s + ttl_s));
  if (iss) json_object_set_new(c, "iss", json_string(iss));
  if (aud) json_object_set_new(c, "aud", json_string(aud));
  /* json_string() returns NULL for invalid UTF-8, and set_new then fails:
   * count what arrived rather than trusting every call. */
  if (json_object_size(c) != 5u + (iss != NULL) + (aud != NULL)) goto done;
  claims_json = json_dumps(c, JSON_COMPACT);
  if (!claims_json) goto done;

  if (jwt_new(&jwt) != 0) goto done;
  if (jwt_add_grants_json(jwt, claims_json) != 0) goto done;
  if (jwt_set_alg(jwt, la, key, (int)key_len) != 0) goto done;
  tok = jwt_encode_str(jwt); /* NULL when the key does not fit the algorithm */
  if (!tok) goto done;
  *out = tok;
  rc = 0;
done:
  if (jwt) jwt_free(jwt);
  free(claims_json);
  json_decref(c);
  return rc;
}
