/* libFuzzer target for fc_jwt_verify under an HS256 configuration.
 *
 * The first byte picks the mode:
 *   even: the rest is the token, verbatim (length limit, segment and base64url
 *         checks, header parsing and alg pinning, libjwt's decoder);
 *   odd:  the rest is "HEADER\nPAYLOAD" JSON, which we base64url-encode and
 *         sign with the configured secret first, so that the claim checks
 *         behind the signature are reached too.
 * Bit 1 of the first byte also configures iss/aud, bit 2 drops the leeway.
 * Must never crash or leak, whatever the bytes. */
#include "auth/jwt.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "fuzz-secret-fuzz-secret-fuzz-secret!"
#define NOW 1700000000LL

static char *b64url(const uint8_t *p, size_t n)
{
  size_t sz = sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  char *s = malloc(sz);
  if (s) sodium_bin2base64(s, sz, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return s;
}

static char *sign(const uint8_t *data, size_t size)
{
  const uint8_t *nl = memchr(data, '\n', size);
  size_t hn = nl ? (size_t)(nl - data) : size;
  const uint8_t *body = nl ? nl + 1 : data + size;
  size_t bn = nl ? size - hn - 1 : 0;
  char *h = b64url(data, hn), *b = b64url(body, bn), *tok = NULL;
  if (!h || !b) goto done;

  size_t in_len = strlen(h) + 1 + strlen(b);
  size_t sig_len = sodium_base64_encoded_len(crypto_auth_hmacsha256_BYTES,
                                             sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  tok = malloc(in_len + 1 + sig_len);
  if (!tok) goto done;
  memcpy(tok, h, strlen(h));
  tok[strlen(h)] = '.';
  memcpy(tok + strlen(h) + 1, b, strlen(b));
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, (const unsigned char *)SECRET, strlen(SECRET));
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)tok, in_len);
  crypto_auth_hmacsha256_final(&st, mac);
  tok[in_len] = '.';
  sodium_bin2base64(tok + in_len + 1, sig_len, mac, sizeof(mac),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
done:
  free(h);
  free(b);
  return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static int ready;
  if (!ready) {
    if (sodium_init() < 0) abort();
    ready = 1;
  }
  if (size < 1) return 0;
  uint8_t mode = data[0];
  data++;
  size--;

  char *tok;
  if (mode & 1) {
    tok = sign(data, size);
  } else {
    tok = malloc(size + 1);
    if (tok) {
      memcpy(tok, data, size);
      tok[size] = '\0';
    }
  }
  if (!tok) return 0;

  fc_jwt_cfg_t cfg = {FC_JWT_HS256, (const unsigned char *)SECRET, strlen(SECRET), NULL, NULL, 30};
  if (mode & 2) {
    cfg.iss = "flashcharge";
    cfg.aud = "ui";
  }
  if (mode & 4) cfg.leeway_s = 0;

  fc_principal_t p;
  const char *why = NULL;
  int rc = fc_jwt_verify(&cfg, tok, NOW, &p, &why);
  if (rc == 0) {
    if (p.sub[0] == '\0' || p.role < FC_ROLE_VIEWER || p.role > FC_ROLE_ADMIN) abort();
    if (p.all_chargers && p.n_chargers) abort();
    for (size_t i = 0; i < p.n_chargers; i++)
      if (!fc_principal_may_see(&p, p.chargers[i])) abort();
    (void)fc_principal_may_see(&p, "CP001");
  } else if (!why) {
    abort();
  }
  fc_principal_cleanup(&p);
  free(tok);
  return 0;
}
